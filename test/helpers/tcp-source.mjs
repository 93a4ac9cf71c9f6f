// Connect, send BYTES random bytes, print {bytes, sha256} of what was sent and exit.
// usage: node tcp-source.mjs HOST PORT BYTES
import { createHash, randomFillSync } from 'node:crypto';
import { connect } from 'node:net';

const [host, portText, bytesText] = process.argv.slice(2);
const total = Number(bytesText);
const hash = createHash('sha256');
const socket = connect({ host, port: Number(portText) }, () => {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(65536, total - sent)));
      hash.update(chunk);
      sent += chunk.length;
      if (!socket.write(chunk)) return socket.once('drain', pump);
    }
    socket.end(() => {
      process.stdout.write(JSON.stringify({ bytes: sent, sha256: hash.digest('hex') }) + '\n');
      process.exit(0);
    });
  };
  pump();
});
socket.on('error', (err) => {
  process.stderr.write(`tcp-source: ${err.message}\n`);
  process.exit(1);
});
