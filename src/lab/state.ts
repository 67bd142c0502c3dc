/**
 * What a lab keeps on the host besides its namespaces: a directory per lab under
 * /run/kubepath/lab (tmpfs: gone after a reboot, like the namespaces) with the manifests it was
 * built from, its plan, the load balancer's configuration and health, and the processes' logs.
 * `KUBEPATH_LAB_DIR` moves it (tests).
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSource } from '../cluster/index.js';
import type { LabPlan } from './topology.js';

export function stateRoot(): string {
  return process.env['KUBEPATH_LAB_DIR'] ?? '/run/kubepath/lab';
}

export function stateDir(lab: string): string {
  return join(stateRoot(), lab);
}

export interface LabState {
  sources: ClusterSource[];
  plan: LabPlan;
  /** `--set` what-ifs applied to the manifests (as `kubepath trace --set`). */
  set?: string[];
  /** When `lab up` finished (absent while it runs, or if it was killed). */
  upAt?: string;
}

export function writeState(lab: string, state: LabState): void {
  mkdirSync(join(stateDir(lab), 'logs'), { recursive: true });
  writeFileSync(join(stateDir(lab), 'state.json'), JSON.stringify(state));
}

export function readState(lab: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir(lab), 'state.json'), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Labs with a state directory. */
export function stateLabs(): string[] {
  try {
    return readdirSync(stateRoot()).sort();
  } catch {
    return [];
  }
}

export function removeState(lab: string): void {
  rmSync(stateDir(lab), { recursive: true, force: true });
}
