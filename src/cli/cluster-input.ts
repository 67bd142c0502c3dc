/**
 * The files behind `-f`: manifests read from files, directories (recursively: `*.yaml`, `*.yml`,
 * `*.json`, in sorted order, as `kubectl apply -f DIR -R` takes them) and `-` for stdin.
 *
 * @module
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSource } from '../cluster/index.js';
import { UserError } from './errors.js';

const MANIFEST = /\.(ya?ml|json)$/i;

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
}

/** The manifest files below a directory, sorted by path. */
function manifestsIn(dir: string): string[] {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return manifestsIn(path);
    return e.isFile() && MANIFEST.test(e.name) ? [path] : [];
  });
}

/**
 * Read the sources for loadCluster. A path that cannot be read is a UserError naming it (all of
 * them in one message); a directory with no manifests is one too.
 */
export function readClusterSources(paths: readonly string[], stdin: () => string = () => readFileSync(0, 'utf8')): ClusterSource[] {
  const sources: ClusterSource[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    if (path === '-') {
      sources.push({ file: '-', text: stdin() });
      continue;
    }
    try {
      const files = statSync(path).isDirectory() ? manifestsIn(path) : [path];
      if (files.length === 0) problems.push(`"${path}": no *.yaml, *.yml or *.json files in the directory`);
      for (const file of files) sources.push({ file, text: readFileSync(file, 'utf8') });
    } catch (e) {
      problems.push(`"${path}": ${why(e)}`);
    }
  }
  if (problems.length === 1) throw new UserError(`cannot read manifests ${problems[0]}`);
  if (problems.length > 1) throw new UserError(`cannot read manifests:\n  ${problems.join('\n  ')}`);
  return sources;
}
