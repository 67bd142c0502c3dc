/**
 * Shared helpers for the cluster tests: load YAML text, collect the formatted issues of a failed load.
 */
import assert from 'node:assert/strict';
import { type Cluster, ClusterLoadError, formatIssue, loadCluster, type LoadClusterOptions } from '../../src/cluster/index.js';

/** Load documents given as YAML text, each its own file `fN.yaml`, or one file when `text` is a string. */
export function load(text: string | string[], options?: LoadClusterOptions): Cluster {
  const files = typeof text === 'string' ? [{ file: 'test.yaml', text }] : text.map((t, i) => ({ file: `f${i + 1}.yaml`, text: t }));
  return loadCluster(files, options);
}

/** The formatted issues of a load that must fail. */
export function errorsOf(text: string | string[], options?: LoadClusterOptions): string[] {
  try {
    load(text, options);
  } catch (e) {
    assert.ok(e instanceof ClusterLoadError, `expected a ClusterLoadError, got ${String(e)}`);
    return e.issues.map(formatIssue);
  }
  assert.fail('the load succeeded');
}

/** The assumptions of a cluster as `object field: value` lines. */
export function assumed(cluster: Cluster): string[] {
  return cluster.assumptions.map((a) => `${a.object} ${a.field}: ${a.value}`);
}

/** The one assumption about `object` and `field`. */
export function assumption(cluster: Cluster, object: string, field: string): string | undefined {
  return cluster.assumptions.find((a) => a.object === object && a.field === field)?.value;
}

/** A minimal Service manifest. */
export function service(name: string, spec: string): string {
  return `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
}

/** A minimal Pod manifest. */
export function pod(name: string, labels: string, rest = ''): string {
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, labels: ${labels}}\n${rest}`;
}
