/**
 * The lab's network namespaces on this host: which exist, which belong to a lab (by their
 * `kp-LAB-ROLE…` name), the processes inside them, and adding or deleting many with one
 * `ip -batch`.
 *
 * @module
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { mustRun } from './exec.js';
import { NAMESPACE_PATTERN } from './topology.js';

const NETNS_DIR = '/run/netns';

/** Every named network namespace (`ip netns list`). */
export function listNamespaces(): string[] {
  try {
    return readdirSync(NETNS_DIR).sort();
  } catch {
    return [];
  }
}

/** The namespaces of a lab (or of every lab), found by name alone. */
export function labNamespaces(lab?: string): string[] {
  return listNamespaces().filter((n) => {
    const m = NAMESPACE_PATTERN.exec(n);
    return m !== null && (lab === undefined || m[1] === lab);
  });
}

/** The lab names that have namespaces on this host. */
export function labNames(): string[] {
  return [...new Set(labNamespaces().map((n) => NAMESPACE_PATTERN.exec(n)![1]!))].sort();
}

/** The processes in each namespace (as `ip netns pids` finds them: by the inode of /proc/PID/ns/net). */
export function processesIn(namespaces: readonly string[]): Map<string, number[]> {
  const byInode = new Map<string, string>();
  for (const ns of namespaces) {
    try {
      byInode.set(`net:[${statSync(`${NETNS_DIR}/${ns}`).ino}]`, ns);
    } catch {
      /* gone */
    }
  }
  const out = new Map<string, number[]>(namespaces.map((n) => [n, []]));
  if (byInode.size === 0) return out;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      continue;
    }
    const ns = byInode.get(link);
    if (ns) out.get(ns)!.push(Number(entry));
  }
  return out;
}

/** Add namespaces (one `ip -batch`). */
export async function addNamespaces(names: readonly string[]): Promise<void> {
  if (names.length > 0) await mustRun('ip', ['-batch', '-'], names.map((n) => `netns add ${n}\n`).join(''));
}

/** Delete namespaces (one `ip -force -batch`: those already gone are no error). */
export async function deleteNamespaces(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await mustRun('ip', ['-force', '-batch', '-'], names.map((n) => `netns del ${n}\n`).join('')).catch(() => undefined);
}
