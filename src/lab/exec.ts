/**
 * Running commands for the lab (and the kernel tests): one child process with a timeout and its
 * output, the same that must succeed (its error names the command and carries its stderr), and
 * whether a process lives.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that failed: the command line, its exit code and what it wrote to stderr. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${code}): ${stderr.trim() || '(no output)'}`);
  }
}

/** Run a command (input on stdin when given); never rejects. */
export function run(cmd: string, args: readonly string[], input?: string, timeoutMs = 20000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args as string[], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code !== 0 ? err.message : '') });
    });
    child.stdin?.on('error', () => undefined); // a command that reads no input may exit first (EPIPE)
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** Run a command that must succeed; its stdout, else a {@link CommandError}. */
export async function mustRun(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new CommandError(`${cmd} ${args.join(' ')}`, r.code, r.stderr || r.stdout);
  return r.stdout;
}

/** Whether a process exists and is not a zombie (a killed lab process may linger unreaped). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
