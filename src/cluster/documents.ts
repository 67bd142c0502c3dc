/**
 * Text to objects: YAML (multi-document) or JSON, and the Lists that `kubectl get -o yaml` prints,
 * each object with the file, document and path it came from. Syntax errors are issues with a line.
 *
 * YAML is read with the 1.2 core schema (JSON's types): `yes` stays a string and a timestamp stays
 * text, so a value reaches the field checks as the user wrote it.
 *
 * @module
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Issues } from './issues.js';
import type { SourceRef } from './model.js';

/** One input: a file's name (as the user gave it) and its text. */
export interface ClusterSource {
  file: string;
  text: string;
}

/** One object of the input: a JSON value and where it was found. */
export interface RawObject {
  value: unknown;
  source: SourceRef;
}

/** `kind: List`, and `ServiceList` and friends from the API: objects under `items`. */
function isList(value: unknown): value is { kind: string; items: unknown[] } {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, items } = value as { kind?: unknown; items?: unknown };
  return typeof kind === 'string' && kind.endsWith('List') && Array.isArray(items);
}

/** The first line of the yaml library's message, without its own position (we give ours). */
function syntaxMessage(message: string): string {
  const first = message.split('\n')[0]!;
  const at = first.lastIndexOf(' at line ');
  return at > 0 ? first.slice(0, at) : first;
}

/** Split sources into objects; syntax errors go to `issues`, and their documents are skipped. */
export function readObjects(sources: readonly ClusterSource[], issues: Issues): RawObject[] {
  const objects: RawObject[] = [];
  for (const { file, text } of sources) {
    // JSON (what `kubectl get -o json` prints) is read by JSON.parse: far faster than the YAML
    // reader on large dumps. Text that is not valid JSON goes to the YAML reader for its messages.
    const json = /^\s*[{[]/.test(text) ? tryJSON(text) : undefined;
    if (json !== undefined) {
      pushValue(objects, json, file, 1);
      continue;
    }
    const lineCounter = new LineCounter();
    // `merge`: `<<: *anchor` merge keys, which kubectl's YAML reader accepts too.
    const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, schema: 'core', merge: true });
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, i) => {
      const document = i + 1;
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
          const reporter = issues.reporter({ file, document, path: '', line: pos.line });
          reporter.error('', `line ${pos.line}, column ${pos.col}: YAML syntax error: ${syntaxMessage(e.message)}`);
        }
        return;
      }
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        // Alias bombs ("billion laughs") end here rather than in memory.
        issues.reporter({ file, document, path: '' }).error('', `YAML error: ${(e as Error).message}`);
        return;
      }
      pushValue(objects, value, file, document);
    });
  }
  return objects;
}

function tryJSON(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** One document's value: its objects (a List's items, each with its path). */
function pushValue(objects: RawObject[], value: unknown, file: string, document: number): void {
  if (value === null || value === undefined) return; // an empty document (`---` at the end)
  if (isList(value)) {
    value.items.forEach((item, n) => objects.push({ value: item, source: { file, document, path: `items[${n}]` } }));
  } else {
    objects.push({ value, source: { file, document, path: '' } });
  }
}
