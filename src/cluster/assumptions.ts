/**
 * Assumptions: the values the loader filled in the way the cluster would, each one reported.
 *
 * @module
 */
import type { Assumption, SourceRef } from './model.js';
import type { ObjectMeta } from './objects.js';

/** `Service default/web`, `Node node-1`: how assumptions and messages name an object. */
export function objectName(kind: string, metadata: Pick<ObjectMeta, 'name' | 'namespace'>): string {
  return metadata.namespace ? `${kind} ${metadata.namespace}/${metadata.name}` : `${kind} ${metadata.name}`;
}

/** The assumptions of one load, in the order they were made. */
export class Assumptions {
  readonly list: Assumption[] = [];

  add(object: string, field: string, value: string, source?: SourceRef): void {
    this.list.push(source ? { object, field, value, source } : { object, field, value });
  }
}

/** The source of values no file gave: kubepath's defaults. */
export const DEFAULTS_SOURCE: SourceRef = { file: '<environment>', document: 0, path: '' };
