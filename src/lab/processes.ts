/**
 * Starting the lab's processes inside its namespaces (`ip netns exec NS node agent.js …`),
 * detached so they outlive `lab up`, each logging to the lab's state directory and telling it is
 * ready on a pipe (fd 3). Stopping them is teardown.ts's: they are found again by namespace.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError, run } from './exec.js';
import { stateDir } from './state.js';

/** The agent's entry point (agent.ts compiled). */
export const AGENT = fileURLToPath(new URL('./agent.js', import.meta.url));

/** Start `agent.js MODE ARGS` in a namespace; resolves once it is ready, rejects with its log if it exits first. */
export function startAgent(lab: string, ns: string, mode: string, args: readonly string[], timeoutMs = 15000): Promise<void> {
  const log = join(stateDir(lab), 'logs', `${ns}.log`);
  const fd = openSync(log, 'a');
  const argv = ['netns', 'exec', ns, process.execPath, AGENT, mode, ...args];
  const child = spawn('ip', argv, { detached: true, stdio: ['ignore', fd, fd, 'pipe'] });
  closeSync(fd);
  const pipe = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      pipe.destroy();
      let out = '';
      try {
        out = readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        /* no log */
      }
      reject(new CommandError(`ip ${argv.join(' ')}`, child.exitCode ?? 1, `${why}${out ? `: ${out}` : ''}`));
    };
    pipe.once('data', () => {
      clearTimeout(timer);
      pipe.destroy();
      child.unref();
      resolve();
    });
    child.once('exit', (code) => fail(`exited with ${code}`));
    child.once('error', (e) => fail(e.message));
  });
}

/** Run the agent once in a namespace (a probe) and return its stdout. */
export async function runAgent(ns: string, mode: string, args: readonly string[], timeoutMs = 60000): Promise<string> {
  const argv = ['netns', 'exec', ns, process.execPath, AGENT, mode, ...args];
  const r = await run('ip', argv, undefined, timeoutMs);
  if (r.code !== 0) throw new CommandError(`ip ${argv.join(' ')}`, r.code, r.stderr || r.stdout);
  return r.stdout;
}
