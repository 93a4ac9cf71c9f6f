/**
 * A minimal reader for the classic pcap format (what `tcpdump -w` writes):
 * a 24-byte global header, then per packet a 16-byte record header and the
 * captured bytes. Enough to check frames byte for byte in tests.
 */
import { readFileSync } from 'node:fs';

export interface PcapFrame {
  /** The link-layer frame as captured. */
  data: Uint8Array;
  /** Original length on the wire (data may be shorter if the snap length cut it). */
  wireLength: number;
}

export function readPcap(path: string): { linkType: number; frames: PcapFrame[] } {
  const buf = readFileSync(path);
  if (buf.length < 24) throw new Error(`${path}: ${buf.length} bytes, too short for a pcap header`);
  const magic = buf.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`${path}: not a pcap file (magic ${magic.toString(16)})`);
  const u32 = (off: number) => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const linkType = u32(20);
  const frames: PcapFrame[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const caplen = u32(off + 8);
    const wireLength = u32(off + 12);
    const start = off + 16;
    if (start + caplen > buf.length) break; // a record cut short by a killed tcpdump
    frames.push({ data: new Uint8Array(buf.subarray(start, start + caplen)), wireLength });
    off = start + caplen;
  }
  return { linkType, frames };
}
