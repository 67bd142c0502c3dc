/**
 * Each benchmark run in a fresh process, as a user's command would run: peak RSS is then the
 * run's own, and one run's garbage does not slow the next.
 */
import { execFileSync } from 'node:child_process';

/** In the child (`--child`): run once and print the result as JSON. Returns true when it did. */
export function runAsChild<T>(runOnce: () => T): boolean {
  if (!process.argv.includes('--child')) return false;
  process.stdout.write(JSON.stringify(runOnce()));
  return true;
}

/** In the parent: run `file` as a child `runs` times, printing each result's line. */
export function runInChildren<T>(file: string, runs: number, line: (r: T) => string): T[] {
  const out: T[] = [];
  for (let i = 0; i < runs; i++) {
    const r = JSON.parse(execFileSync(process.execPath, [file, '--child'], { encoding: 'utf8', maxBuffer: 1 << 20 })) as T;
    out.push(r);
    console.log(`run ${i + 1}: ${line(r)}`);
  }
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
