import type { HourlyUsage } from './usage.js';

/** Text for an XML attribute or text node. */
export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const hourLabel = (date: Date): string => `${String(date.getUTCHours()).padStart(2, '0')}:00`;

/** Charts at least this tall get axes; smaller ones (the sparklines in the agent page's key table) stay bare. */
export const AXES_MIN_HEIGHT = 60;

/** What the y-axis counts: one bar is one clock hour (UTC), so its height is requests in that hour. */
export const Y_AXIS_LABEL = 'Requests per hour';

export interface ChartOptions {
  /** Drawing size in CSS pixels; the SVG scales to its container's width. */
  width?: number;
  height?: number;
  /** Accessible name of the chart. */
  label: string;
  /** Draw the y-axis (ticks, grid lines, "Requests per hour") and hour marks; default: when `height` ≥ AXES_MIN_HEIGHT. */
  axes?: boolean;
}

/**
 * The y-axis scale for a busiest hour of `highest`: a "nice" top (1, 2, 2.5 or 5 × 10ⁿ per step)
 * with at most four steps, so tick labels are round numbers and the tallest bar nearly fills
 * the plot. No traffic still gets a 0–1 scale (a flat chart, not a division by zero).
 */
export function yScale(highest: number): { top: number; ticks: number[] } {
  if (!(highest > 0)) return { top: 1, ticks: [0, 1] };
  const rough = highest / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  // Whole requests only: no step of 0.5, nor 2.5 (ticks 2.5, 7.5).
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough && Number.isInteger(candidate)) ?? 1;
  const top = Math.ceil(highest / step) * step;
  const ticks: number[] = [];
  for (let value = 0; value <= top; value += step) ticks.push(value);
  return { top, ticks };
}

/** 950, 1,200, 12k, 1.5M: short enough for the axis gutter. */
export function tickLabel(value: number): string {
  if (value >= 1_000_000) return `${Number((value / 1_000_000).toFixed(1))}M`;
  if (value >= 10_000) return `${Number((value / 1_000).toFixed(1))}k`;
  return value.toLocaleString('en-US');
}

/**
 * A bar per hour, drawn on the server as inline SVG (no script, no external file, no style
 * attribute: the page's CSP allows none). A bar's height is the requests authenticated with the
 * key in that hour; the part of them the rate limiter refused is drawn in red at the top of the
 * bar. Refused requests were authenticated first, so they are already among the requests: they
 * are not stacked on top, which would count them twice. (A refusal at `/auth/refresh` is not a
 * verification; a bar is never shorter than its refusals.) Each bar carries a <title> (shown on
 * hover, read by screen readers) and the whole chart an accessible name that says the same.
 *
 * With axes, a left gutter holds the rotated label "Requests per hour" and round tick numbers
 * with faint grid lines, and the hour marks run along the bottom every six hours (UTC).
 */
export function renderUsageChart(hours: readonly HourlyUsage[], options: ChartOptions): string {
  const width = options.width ?? 288;
  const height = options.height ?? 64;
  const axes = options.axes ?? height >= AXES_MIN_HEIGHT;
  const barTotal = (hour: HourlyUsage): number => Math.max(hour.requests, hour.rejections);
  const highest = Math.max(0, ...hours.map(barTotal));
  const scale = axes ? yScale(highest) : { top: Math.max(1, highest), ticks: [] };

  const bottom = 14;
  const top = axes ? 6 : 0;
  const widestTick = Math.max(1, ...scale.ticks.map((tick) => tickLabel(tick).length));
  // Rotated label (about 14 px), then the tick numbers (about 6 px a character at 10 px), then a gap.
  const left = axes ? 16 + widestTick * 6 + 6 : 0;
  const plot = height - bottom - top;
  const plotWidth = width - left;
  const y = (value: number): number => top + plot - (value / scale.top) * plot;

  const parts: string[] = [];
  if (axes) {
    const midY = (top + plot / 2).toFixed(1);
    parts.push(`<text x="11" y="${midY}" transform="rotate(-90 11 ${midY})" text-anchor="middle" class="axis axis-title">${escapeXml(Y_AXIS_LABEL)}</text>`);
    for (const tick of scale.ticks) {
      const at = y(tick).toFixed(1);
      parts.push(`<line x1="${left}" x2="${width}" y1="${at}" y2="${at}" class="grid"/>`
        + `<text x="${left - 4}" y="${at}" dy="3" text-anchor="end" class="axis tick">${escapeXml(tickLabel(tick))}</text>`);
    }
  }

  const slot = plotWidth / Math.max(1, hours.length);
  const bar = Math.max(1, slot - 2);
  hours.forEach((hour, index) => {
    const x = (left + index * slot + 1).toFixed(1);
    const total = barTotal(hour);
    const refused = Math.min(hour.rejections, total);
    const allowedHeight = ((total - refused) / scale.top) * plot;
    const refusedHeight = (refused / scale.top) * plot;
    const title = `${hourLabel(hour.hourStart)} UTC: ${hour.requests} request${hour.requests === 1 ? '' : 's'}, ${hour.rejections} rejected`;
    parts.push(`<g><title>${escapeXml(title)}</title>`
      // A faint full-height slot so empty hours still show and can be hovered.
      + `<rect x="${x}" y="${top}" width="${bar.toFixed(1)}" height="${plot.toFixed(1)}" class="slot"/>`
      + (total - refused > 0 ? `<rect x="${x}" y="${y(total - refused).toFixed(1)}" width="${bar.toFixed(1)}" height="${Math.max(1, allowedHeight).toFixed(1)}" class="requests"/>` : '')
      + (refused > 0 ? `<rect x="${x}" y="${(top + plot - allowedHeight - refusedHeight).toFixed(1)}" width="${bar.toFixed(1)}" height="${Math.max(1, refusedHeight).toFixed(1)}" class="rejections"/>` : '')
      + '</g>');
  });

  const first = hours[0];
  const last = hours[hours.length - 1];
  if (axes && hours.length > 1) {
    // Hour marks every six hours, and the last hour labelled with its zone.
    hours.forEach((hour, index) => {
      if (index % 6 !== 0 || index > hours.length - 4) return;
      const anchor = index === 0 ? 'start' : 'middle';
      parts.push(`<text x="${(left + index * slot + (index === 0 ? 1 : slot / 2)).toFixed(1)}" y="${height - 2}" text-anchor="${anchor}" class="axis">${escapeXml(hourLabel(hour.hourStart))}</text>`);
    });
    parts.push(`<text x="${width}" y="${height - 2}" text-anchor="end" class="axis">${escapeXml(hourLabel(last!.hourStart))} UTC</text>`);
  } else if (first && last) {
    parts.push(`<text x="0" y="${height - 2}" class="axis">${escapeXml(hourLabel(first.hourStart))}</text><text x="${width}" y="${height - 2}" text-anchor="end" class="axis">${escapeXml(hourLabel(last.hourStart))} UTC</text>`);
  }

  const total = hours.reduce((sum, hour) => sum + hour.requests, 0);
  const rejected = hours.reduce((sum, hour) => sum + hour.rejections, 0);
  const summary = `${options.label}: ${total} request${total === 1 ? '' : 's'} and ${rejected} rejected in the last ${hours.length} hours, at most ${highest} in one hour`;
  return `<svg class="usage-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(summary)}">`
    + parts.join('') + '</svg>';
}
