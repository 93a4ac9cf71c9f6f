/**
 * A minimal reader for the classic pcap format (what `tcpdump -w` writes):
 * a 24-byte global header, then per packet a 16-byte record header and the
 * captured bytes. Enough to check frames byte for byte in tests.
 */
import { readFileSync } from 'node:fs';
import type { NetnsSandbox } from './netns.ts';

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

/**
 * Capture up to `count` frames on `ns`'s ul0 that match the tcpdump
 * `filter` while `during` runs, into `file`, and read them. tcpdump says
 * "listening on" once the capture is armed, so `during` starts only then;
 * the capture ends at `count` frames or 5 s after `during`, whichever is first.
 */
export async function captureDuring(sb: NetnsSandbox, ns: string, file: string, count: number, filter: string, during: () => Promise<unknown>): Promise<{ linkType: number; frames: PcapFrame[] }> {
  const dump = sb.spawn(ns, ['tcpdump', '-i', 'ul0', '-n', '-U', '-s', '0', '-w', file, '-c', String(count), filter]);
  try {
    for (let i = 0; i < 100 && !dump.stderr().includes('listening on'); i++) await new Promise((r) => setTimeout(r, 50));
    await during();
    await Promise.race([dump.exited, new Promise((r) => setTimeout(r, 5000))]);
  } finally {
    await dump.kill();
  }
  return readPcap(file);
}
