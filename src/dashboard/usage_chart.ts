import type { HourlyUsage } from './usage.js';

/** Text for an XML attribute or text node. */
export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const hourLabel = (date: Date): string => `${String(date.getUTCHours()).padStart(2, '0')}:00`;

export interface ChartOptions {
  /** Drawing size in CSS pixels; the SVG scales to its container's width. */
  width?: number;
  height?: number;
  /** Accessible name of the chart. */
  label: string;
}

/**
 * A bar per hour, drawn on the server as inline SVG (no script, no external file): requests in
 * the accent colour, rate-limit rejections stacked on top in red. Each bar carries a <title>
 * (shown on hover, read by screen readers) and the whole chart an accessible name.
 */
export function renderUsageChart(hours: readonly HourlyUsage[], options: ChartOptions): string {
  const width = options.width ?? 288;
  const height = options.height ?? 64;
  const axis = 14;
  const plot = height - axis;
  const highest = Math.max(0, ...hours.map((hour) => hour.requests + hour.rejections));
  const peak = Math.max(1, highest);
  const slot = width / Math.max(1, hours.length);
  const bar = Math.max(1, slot - 2);
  const parts: string[] = [];
  hours.forEach((hour, index) => {
    const x = (index * slot + 1).toFixed(1);
    const requestsHeight = (hour.requests / peak) * plot;
    const rejectionsHeight = (hour.rejections / peak) * plot;
    const title = `${hourLabel(hour.hourStart)} UTC: ${hour.requests} request${hour.requests === 1 ? '' : 's'}, ${hour.rejections} rejected`;
    parts.push(`<g><title>${escapeXml(title)}</title>`
      // A faint full-height slot so empty hours still show and can be hovered.
      + `<rect x="${x}" y="0" width="${bar.toFixed(1)}" height="${plot}" class="slot"/>`
      + (hour.requests > 0 ? `<rect x="${x}" y="${(plot - requestsHeight).toFixed(1)}" width="${bar.toFixed(1)}" height="${Math.max(1, requestsHeight).toFixed(1)}" class="requests"/>` : '')
      + (hour.rejections > 0 ? `<rect x="${x}" y="${(plot - requestsHeight - rejectionsHeight).toFixed(1)}" width="${bar.toFixed(1)}" height="${Math.max(1, rejectionsHeight).toFixed(1)}" class="rejections"/>` : '')
      + '</g>');
  });
  const first = hours[0];
  const last = hours[hours.length - 1];
  const labels = first && last
    ? `<text x="0" y="${height - 2}" class="axis">${escapeXml(hourLabel(first.hourStart))}</text><text x="${width}" y="${height - 2}" text-anchor="end" class="axis">${escapeXml(hourLabel(last.hourStart))} UTC</text>`
    : '';
  const total = hours.reduce((sum, hour) => sum + hour.requests, 0);
  const rejected = hours.reduce((sum, hour) => sum + hour.rejections, 0);
  const summary = `${options.label}: ${total} request${total === 1 ? '' : 's'} and ${rejected} rejected in the last ${hours.length} hours, at most ${highest} in one hour`;
  return `<svg class="usage-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(summary)}">`
    + parts.join('') + labels + '</svg>';
}
