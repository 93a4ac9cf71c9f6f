import type { RecordFields } from '../../../src/gossip/record.ts';
import { parseCidr } from '../../../src/wire/addr.ts';

export function fields(name: string, over: Partial<RecordFields> = {}): RecordFields {
  return {
    name,
    flags: 0,
    wgPublicKey: null,
    address: '192.0.2.10',
    gossipPort: 7946,
    dataPort: 8472,
    vtepMac: Uint8Array.of(0x02, 1, 2, 3, 4, 5),
    vtepIp: '10.244.3.0',
    subnetClaimedAt: 1_700_000_000_000,
    location: 'rack-1',
    subnets: [parseCidr('10.244.3.0/24')],
    ...over,
  };
}
