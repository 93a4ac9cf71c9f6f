// A one-way probe stream for outage measurements.
//   node udp-probe.mjs recv PORT            prints "listening", then "<ms since epoch> <seq>" per datagram
//   node udp-probe.mjs send IP PORT MS      sends a numbered datagram every MS milliseconds until killed
// Send errors (no route while a node restarts) are ignored: the gap is what is measured.
import { createSocket } from 'node:dgram';

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'recv') {
  const s = createSocket('udp4');
  s.on('message', (msg) => process.stdout.write(`${Date.now()} ${msg.readUInt32BE(0)}\n`));
  s.bind(Number(a), () => process.stdout.write('listening\n'));
} else if (mode === 'send') {
  const s = createSocket('udp4');
  s.on('error', () => {});
  const buf = Buffer.alloc(64);
  let seq = 0;
  setInterval(() => {
    buf.writeUInt32BE(seq++, 0);
    s.send(buf, Number(b), a, () => {});
  }, Number(c));
} else {
  process.stderr.write('usage: udp-probe.mjs recv PORT | send IP PORT MS\n');
  process.exit(2);
}
