/** Small helpers the benches share. */

/**
 * Kills a child's whole process group (the child must have been spawned `detached`). Killing
 * `git push` alone is not enough: its git-remote-http child keeps the output pipes open and waits
 * on the server.
 */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The median of the finite values; NaN when there are none. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** A child's output quoted under a message, each line behind a bar. */
export const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `    | ${l.trimEnd()}`)
    .join('\n');
