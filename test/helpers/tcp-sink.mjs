// Accept one TCP connection, hash everything it sends, print {bytes, sha256} and exit.
// usage: node tcp-sink.mjs PORT
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
const server = createServer((socket) => {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (d) => {
    hash.update(d);
    bytes += d.length;
  });
  socket.on('end', () => {
    process.stdout.write(JSON.stringify({ bytes, sha256: hash.digest('hex') }) + '\n');
    server.close();
    process.exit(0);
  });
});
server.listen(port, () => process.stdout.write('listening\n'));
