/** The end-to-end bench's parsers, on text captured from iperf3 3.12, iputils ping and /proc. */
import { describe, expect, it } from 'vitest';
import {
  parseIperfTcp,
  parseIperfUdp,
  parsePingLoss,
  parsePingRtts,
  parseProcStatCpu,
  parseProcStatTicks,
  parseVmHwm,
  percentile,
} from '../../../bench/e2e/parse.ts';

// Trimmed from `iperf3 -c ... -J` (3.12): only the fields the parser reads, plus neighbours.
const TCP = JSON.stringify({
  start: { version: 'iperf 3.12' },
  intervals: [],
  end: {
    sum_sent: { seconds: 2.0, bytes: 2_000_000_000, bits_per_second: 8e9, retransmits: 597, sender: true },
    sum_received: { seconds: 2.002243, bytes: 1_984_036_864, bits_per_second: 7_927_257_037.2, sender: true },
    cpu_utilization_percent: { host_total: 40.7, host_user: 1.2, host_system: 39.5, remote_total: 39.4, remote_user: 0.9, remote_system: 38.5 },
  },
});

const UDP = JSON.stringify({
  end: {
    sum: { seconds: 1.001317, bytes: 5419440, packets: 150540, lost_packets: 81410, lost_percent: 54.08, sender: true },
    sum_sent: { seconds: 1.001126, bytes: 5419440, packets: 150540, lost_packets: 0, lost_percent: 0, sender: true },
    sum_received: { seconds: 1.001317, bytes: 2488680, packets: 150540, lost_packets: 81410, lost_percent: 54.08, sender: false },
    cpu_utilization_percent: { host_total: 99, remote_total: 60 },
  },
});

const PING = `PING 10.244.2.2 (10.244.2.2) 56(84) bytes of data.
64 bytes from 10.244.2.2: icmp_seq=1 ttl=62 time=0.673 ms
64 bytes from 10.244.2.2: icmp_seq=2 ttl=62 time=7.44 ms
64 bytes from 10.244.2.2: icmp_seq=3 ttl=62 time=12 ms
64 bytes from 10.244.2.2: icmp_seq=4 ttl=62 time<0.001 ms

--- 10.244.2.2 ping statistics ---
5 packets transmitted, 4 received, 20% packet loss, time 41ms
rtt min/avg/max/mdev = 0.000/5.028/12.000/4.901 ms
`;

describe('iperf3 JSON', () => {
  it('reads TCP throughput from sum_received and the processes\' CPU from cpu_utilization_percent', () => {
    const r = parseIperfTcp(TCP);
    expect(r.bytes).toBe(1_984_036_864);
    expect(r.bitsPerSecond).toBeCloseTo(7_927_257_037.2);
    expect(r.retransmits).toBe(597);
    expect(r.clientCpuSeconds).toBeCloseTo(0.407 * 2.002243);
    expect(r.serverCpuSeconds).toBeCloseTo(0.394 * 2.002243);
  });

  it('counts UDP packets the server received: sent minus lost', () => {
    const r = parseIperfUdp(UDP);
    expect(r.sentPackets).toBe(150540);
    expect(r.receivedPackets).toBe(150540 - 81410);
    expect(r.receivedPps).toBeCloseTo(69130 / 1.001317);
    expect(r.lostPercent).toBeCloseTo(54.08, 1);
  });

  it('falls back to end.sum when an older iperf3 has no sum_received', () => {
    const old = JSON.parse(UDP) as { end: Record<string, unknown> };
    delete old.end.sum_received;
    expect(parseIperfUdp(JSON.stringify(old)).receivedPackets).toBe(69130);
  });

  it("throws with iperf3's own message when it reports an error, and on non-JSON", () => {
    expect(() => parseIperfTcp(JSON.stringify({ start: {}, end: {}, error: 'unable to connect to server: Connection refused' }))).toThrow(/Connection refused/u);
    expect(() => parseIperfTcp('iperf3: error')).toThrow(/did not print JSON/u);
    expect(() => parseIperfTcp(JSON.stringify({ end: {} }))).toThrow(/sum_received missing/u);
  });
});

describe('ping', () => {
  it('reads every reply\'s round trip, including "time<" and whole milliseconds', () => {
    expect(parsePingRtts(PING)).toEqual([0.673, 7.44, 12, 0.001]);
    expect(parsePingLoss(PING)).toEqual({ transmitted: 5, received: 4 });
    expect(parsePingRtts('')).toEqual([]);
    expect(parsePingLoss('')).toEqual({ transmitted: 0, received: 0 });
  });

  it('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile([3], 99)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('/proc', () => {
  it('utime + stime from /proc/<pid>/stat, whatever the command name holds', () => {
    const stat = '4242 (weird) name)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 11 0 12345 1000000 2000 18446744073709551615';
    expect(parseProcStatTicks(stat)).toBe(325);
    expect(() => parseProcStatTicks('garbage')).toThrow();
  });

  it('VmHWM in bytes', () => {
    expect(parseVmHwm('Name:\tnode\nVmPeak:\t 999 kB\nVmHWM:\t   83012 kB\nVmRSS:\t 80000 kB\n')).toBe(83012 * 1024);
    expect(parseVmHwm('Name:\tkthreadd\n')).toBeUndefined();
  });

  it('busy jiffies from /proc/stat: idle and iowait are not busy', () => {
    const stat = 'cpu  100 5 50 1000 20 3 7 1 0 0\ncpu0 50 2 25 500 10 1 3 0 0 0\n';
    expect(parseProcStatCpu(stat)).toEqual({ busy: 100 + 5 + 50 + 3 + 7 + 1, total: 100 + 5 + 50 + 3 + 7 + 1 + 1000 + 20 });
  });
});
