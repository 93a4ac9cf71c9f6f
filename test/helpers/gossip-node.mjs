// One real gossip node for the integration test: a dgram socket on 127.0.0.1,
// the real clock, the compiled membership and subnet allocator from dist/.
// Prints one JSON line per event on stdout, each with its wall-clock time `t`
// (ms), so a test can time convergence and detection where they happened,
// not where the pipe delivered them. Loopback only, by construction.
//
//   node gossip-node.mjs <name> <stateDir> <clusterKeyHex> [seedPort...]
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../dist/src/', import.meta.url));
if (!existsSync(`${dist}gossip/membership.js`)) {
  console.error(`gossip-node: ${dist}gossip/membership.js is missing; build first with: npx tsc -p tsconfig.build.json`);
  process.exit(2);
}
const { Membership } = await import(`${dist}gossip/membership.js`);
const { Keyring } = await import(`${dist}gossip/keyring.js`);
const { RealClock } = await import(`${dist}gossip/clock.js`);
const { UdpGossipTransport } = await import(`${dist}gossip/udp-transport.js`);
const { loadOrCreateIdentity } = await import(`${dist}gossip/identity.js`);
const { SubnetAllocator } = await import(`${dist}ipam/allocator.js`);
const { leasePath } = await import(`${dist}ipam/lease-file.js`);
const { formatCidr, deriveVtepMac } = await import(`${dist}wire/addr.js`);

const [name, stateDir, keyHex, ...seedPorts] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
const transport = await UdpGossipTransport.bind('127.0.0.1', 0);
const clock = new RealClock();
const id = loadOrCreateIdentity(stateDir);
const m = new Membership({
  clock,
  transport,
  keyring: new Keyring(Buffer.from(keyHex, 'hex')),
  secretKey: id.secretKey,
  // Seconds since the epoch: a restarted node starts above what it said before.
  incarnation: Math.floor(Date.now() / 1000) % 2 ** 31,
  self: {
    name, flags: 0, wgPublicKey: null, address: '127.0.0.1', gossipPort: transport.port, dataPort: 8472,
    vtepMac: deriveVtepMac(name), vtepIp: '0.0.0.0', subnetClaimedAt: 0, location: 'test', subnets: [],
  },
});
const alloc = new SubnetAllocator({ membership: m, now: () => clock.now(), wallNow: () => Date.now(), leaseFile: leasePath(stateDir) });
m.on((e) => {
  alloc.check();
  out({ ev: e.type, name: e.name, reason: e.reason ?? null, subnets: e.peer.subnets.map(formatCidr) });
});
m.start();
m.join(seedPorts.map((p) => ({ address: '127.0.0.1', port: Number(p) })));
out({ ev: 'listening', port: transport.port });
// Claim once the first sync had time to bring the map.
setTimeout(() => out({ ev: 'subnet', subnet: formatCidr(alloc.allocate()) }), 600);
let lastSubnet = '';
// How late this 200 ms timer fires: a starved process (a busy machine) shows here, and a test can
// tell a node that could not answer from a protocol fault.
let due = Date.now() + 200;
setInterval(() => {
  const lagMs = Math.max(0, Date.now() - due);
  due = Date.now() + 200;
  const s = m.record.subnets[0];
  const text = s === undefined ? '' : formatCidr(s);
  if (text !== '' && text !== lastSubnet) {
    lastSubnet = text;
    out({ ev: 'own-subnet', subnet: text });
  }
  out({ ev: 'live', count: m.liveCount, peers: m.peers().map((p) => p.name).sort(), lagMs, refutations: m.stats.refutations, awareness: m.awareness.score });
}, 200);
const stop = () => {
  m.stop();
  transport.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Never outlive the test runner.
process.stdin.on('end', stop);
process.stdin.resume();
