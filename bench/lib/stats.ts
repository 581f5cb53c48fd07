/**
 * The median: the middle value, or the mean of the two middle values of an even count (an A/B of
 * 4 rounds reports between its 2nd and 3rd round, not its 3rd). Throws on no values.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
