/**
 * chart.svg: grouped horizontal bars of TCP throughput (1 and 4 streams) per
 * case, written by hand so the bench has no chart dependency.
 */
import type { CaseResult } from './report.ts';

const WIDTH = 760;
const LABEL_W = 170;
const VALUE_W = 90;
const BAR_H = 16;
const GROUP_GAP = 14;
const TOP = 56;
const SERIES = [
  { label: 'TCP 1 stream', color: '#4e79a7', get: (r: CaseResult) => r.tcp1?.bitsPerSecond },
  { label: 'TCP 4 streams', color: '#f28e2b', get: (r: CaseResult) => r.tcp4?.bitsPerSecond },
] as const;

export function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export function throughputSvg(cases: readonly CaseResult[], title: string): string {
  const values = cases.flatMap((c) => SERIES.map((s) => s.get(c) ?? 0)).filter((v) => Number.isFinite(v));
  const max = Math.max(1, ...values);
  const barSpace = WIDTH - LABEL_W - VALUE_W;
  const groupH = SERIES.length * BAR_H + GROUP_GAP;
  const height = TOP + cases.length * groupH + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  SERIES.forEach((s, i) => {
    const x = LABEL_W + i * 130;
    out.push(`<rect x="${x}" y="32" width="12" height="12" fill="${s.color}"/>`, `<text x="${x + 16}" y="42">${escapeXml(s.label)}</text>`);
  });
  cases.forEach((c, g) => {
    const y0 = TOP + g * groupH;
    const name = c.transport === undefined ? c.name : `${c.name} (${c.transport})`;
    out.push(`<text x="${LABEL_W - 8}" y="${y0 + BAR_H + 4}" text-anchor="end">${escapeXml(name)}</text>`);
    SERIES.forEach((s, i) => {
      const v = s.get(c);
      const y = y0 + i * BAR_H;
      const w = v === undefined || !Number.isFinite(v) ? 0 : Math.max(1, (v / max) * barSpace);
      const text = v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v / 1e6).toFixed(0)} Mbit/s`;
      out.push(
        `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H - 2}" fill="${s.color}"><title>${escapeXml(`${name}, ${s.label}: ${text}`)}</title></rect>`,
        `<text x="${(LABEL_W + w + 4).toFixed(1)}" y="${y + BAR_H - 4}" font-size="11">${escapeXml(text)}</text>`,
      );
    });
  });
  const axisY = TOP + cases.length * groupH;
  out.push(`<line x1="${LABEL_W}" y1="${TOP - 4}" x2="${LABEL_W}" y2="${axisY}" stroke="#333"/>`);
  out.push(`<text x="${LABEL_W}" y="${axisY + 18}" font-size="11" fill="#555">0 to ${(max / 1e6).toFixed(0)} Mbit/s, linear</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
