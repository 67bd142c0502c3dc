/**
 * `lab down`: every process in the lab's namespaces stopped, every namespace deleted (its veths
 * and bridges go with it), the state directory removed. Everything is found by its `kp-LAB-`
 * name, so it works after a crash or a killed `lab up`; a second run finds nothing to do.
 *
 * @module
 */
import { processAlive } from './exec.js';
import { deleteNamespaces, labNamespaces, labNames, processesIn } from './namespaces.js';
import { removeState, stateLabs } from './state.js';

export interface TeardownResult {
  labs: string[];
  namespaces: number;
  processes: number;
}

/** Tear down one lab, or every lab (`undefined`). */
export async function teardown(lab: string | undefined): Promise<TeardownResult> {
  const labs = lab !== undefined ? [lab] : [...new Set([...labNames(), ...stateLabs()])];
  const namespaces = labs.flatMap((l) => labNamespaces(l));
  const pids = [...processesIn(namespaces).values()].flat();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  // A namespace lives as long as a process in it: wait for them to go (a second at most).
  const until = Date.now() + 1000;
  while (pids.some((p) => processAlive(p)) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  await deleteNamespaces(namespaces);
  for (const l of labs) removeState(l);
  return { labs: labs.filter((l) => namespaces.some((n) => n.startsWith(`kp-${l}-`))), namespaces: namespaces.length, processes: pids.length };
}
