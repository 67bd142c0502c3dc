/**
 * Running commands for the kernel labs (lab.ts, sidecar-lab.ts): the lab's own helpers
 * (src/lab/exec.ts), one child process with a timeout and its output, the same that must
 * succeed, and whether a lab's owner process lives.
 */
export { mustRun, processAlive, run, type RunResult } from '../../src/lab/exec.js';
