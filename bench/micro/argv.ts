/** The value after `name` on the command line of a micro-benchmark (`--seconds 2`), if given. */
export function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}
