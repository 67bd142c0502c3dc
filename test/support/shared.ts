/**
 * Where the shared conformance data lives: `../shared` beside the project (or $KUBEPATH_SHARED).
 * Tests read it in place; the project keeps no copy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root directory (tests run from dist/test/...). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The shared directory, or undefined when it is not there. */
export function sharedDir(): string | undefined {
  const dir = process.env['KUBEPATH_SHARED'] ?? resolve(projectRoot, '..', 'shared');
  return existsSync(dir) ? dir : undefined;
}

/** Read and parse a JSON file under shared/conformance; throws a clear error when missing. */
export function readConformance<T>(relative: string): T {
  const dir = sharedDir();
  if (!dir) throw new Error(`shared conformance data not found: expected ../shared beside ${projectRoot} (or set KUBEPATH_SHARED)`);
  return JSON.parse(readFileSync(resolve(dir, 'conformance', relative), 'utf8')) as T;
}
