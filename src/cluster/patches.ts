/**
 * What-if edits: `svc/NS/NAME.spec.externalTrafficPolicy=Local` sets one field of one object
 * before the load, so everything the cluster derives from it (health check ports, EndpointSlices,
 * rules) follows. The value is read as YAML (`3`, `true`, `[a, b]`, `{k: v}` or a string).
 *
 * @module
 */
import { parse } from 'yaml';
import type { RawObject } from './documents.js';

/** One `--set`. */
export interface ObjectPatch {
  /** As given, for messages. */
  text: string;
  kind: string;
  namespace: string | undefined;
  name: string;
  path: string[];
  value: unknown;
}

const KINDS: Record<string, string> = {
  svc: 'Service',
  service: 'Service',
  pod: 'Pod',
  node: 'Node',
  deploy: 'Deployment',
  deployment: 'Deployment',
  sts: 'StatefulSet',
  statefulset: 'StatefulSet',
  ds: 'DaemonSet',
  daemonset: 'DaemonSet',
  rs: 'ReplicaSet',
  replicaset: 'ReplicaSet',
  endpointslice: 'EndpointSlice',
  cm: 'ConfigMap',
  configmap: 'ConfigMap',
  ing: 'Ingress',
  ingress: 'Ingress',
  ingressclass: 'IngressClass',
};

/** A `--set` that cannot be understood or applied. */
export class PatchError extends Error {
  override readonly name = 'PatchError';
}

/** `metadata.annotations[sidecar.istio.io/inject]` → metadata, annotations, sidecar.istio.io/inject: brackets hold keys with dots. */
function splitPath(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) return [''];
      out.push(text.slice(i + 1, close).replace(/^["']|["']$/g, ''));
      i = close + 1;
      if (text[i] === '.') i++;
      else if (i < text.length && text[i] !== '[') return [''];
      if (i === text.length) break;
      continue;
    }
    let end = i;
    while (end < text.length && text[end] !== '.' && text[end] !== '[') end++;
    out.push(text.slice(i, end));
    i = text[end] === '.' ? end + 1 : end;
    if (end === text.length) break;
  }
  return out;
}

/** Parse `KIND/[NS/]NAME.FIELD.PATH=VALUE`; a key with dots goes in brackets: `metadata.annotations[sidecar.istio.io/inject]`. */
export function parsePatch(text: string): ObjectPatch {
  // `env.FIELD.PATH=VALUE`: the (one) Environment; list items by name (`proxies[edge]`).
  const env = /^env\.([^=]+)=(.*)$/s.exec(text);
  if (env) return { text, kind: 'Environment', namespace: undefined, name: '', path: checkedPath(text, env[1]!), value: valueOf(env[2]!) };
  const m = /^([a-z]+)\/(?:([^/.=]+)\/)?([^/.=]+)\.([^=]+)=(.*)$/s.exec(text);
  if (!m) throw new PatchError(`--set ${text}: expected KIND/NS/NAME.FIELD.PATH=VALUE, e.g. svc/shop/web.spec.externalTrafficPolicy=Local`);
  const kind = KINDS[m[1]!];
  if (!kind) throw new PatchError(`--set ${text}: unknown kind "${m[1]}"; one of ${Object.keys(KINDS).join(', ')}`);
  const path = checkedPath(text, m[4]!);
  let value = valueOf(m[5]!);
  // ConfigMap data, annotations and labels are strings: `use-forwarded-headers=true` means "true".
  const stringMap = (kind === 'ConfigMap' && path[0] === 'data' && path.length === 2) || ['annotations', 'labels'].includes(path[path.length - 2] ?? '');
  if (stringMap && (typeof value === 'boolean' || typeof value === 'number')) value = m[5]!;
  return { text, kind, namespace: kind === 'Node' || kind === 'IngressClass' ? undefined : (m[2] ?? 'default'), name: m[3]!, path, value };
}

function checkedPath(text: string, fields: string): string[] {
  const path = splitPath(fields);
  if (path.some((p) => p === '')) throw new PatchError(`--set ${text}: empty field name in "${fields}"`);
  return path;
}

/** The value read as YAML (`3`, `true`, `[a, b]`), else the text as it is. */
function valueOf(text: string): unknown {
  try {
    return text === '' ? '' : parse(text);
  } catch {
    return text;
  }
}

/** The keys that name an item of an Environment list (`proxies[edge]`, `loadBalancers[shop/web]`, `apps[Deployment/shop/web]`). */
const ITEM_KEYS = ['name', 'service', 'workload'] as const;

function itemOf(list: unknown[], key: string, p: ObjectPatch): Record<string, unknown> {
  const byIndex = /^\d+$/.test(key) ? list[Number(key)] : undefined;
  const found = byIndex ?? list.find((x) => x !== null && typeof x === 'object' && ITEM_KEYS.some((k) => (x as Record<string, unknown>)[k] === key));
  if (found === null || typeof found !== 'object' || Array.isArray(found)) {
    const names = list.map((x) => (x !== null && typeof x === 'object' ? ITEM_KEYS.map((k) => (x as Record<string, unknown>)[k]).find((v) => typeof v === 'string') : undefined)).filter((v) => v !== undefined);
    throw new PatchError(`--set ${p.text}: no item "${key}" in the list; items: ${names.join(', ') || '(none)'}`);
  }
  return found as Record<string, unknown>;
}

function matches(raw: RawObject, p: ObjectPatch): boolean {
  const v = raw.value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
  if (!v || typeof v !== 'object' || v.kind !== p.kind) return false;
  if (p.kind === 'Environment' && p.name === '') return true;
  if (v.metadata?.name !== p.name) return false;
  return p.namespace === undefined || (v.metadata?.namespace ?? 'default') === p.namespace;
}

/** Apply every patch to the raw objects; a patch that names no object is an error listing that kind's objects. */
export function applyPatches(objects: RawObject[], patches: readonly ObjectPatch[]): void {
  for (const p of patches) {
    const target = objects.find((o) => matches(o, p));
    if (!target) {
      const names = objects
        .map((o) => o.value as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } })
        .filter((v) => v?.kind === p.kind)
        .map((v) => `${v.metadata?.namespace ? `${String(v.metadata.namespace)}/` : ''}${String(v.metadata?.name)}`);
      if (p.kind === 'Environment') throw new PatchError(`--set ${p.text}: no Environment in the manifests`);
      throw new PatchError(`--set ${p.text}: no ${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} in the manifests; ${p.kind}s: ${names.join(', ') || '(none)'}`);
    }
    let node: unknown = target.value;
    for (const key of p.path.slice(0, -1)) {
      if (Array.isArray(node)) {
        node = itemOf(node, key, p);
        continue;
      }
      const obj = node as Record<string, unknown>;
      const next = obj[key];
      if (next === undefined || next === null) node = obj[key] = {};
      else if (typeof next === 'object') node = next;
      else throw new PatchError(`--set ${p.text}: ${key} is not an object`);
    }
    if (Array.isArray(node)) throw new PatchError(`--set ${p.text}: ${p.path[p.path.length - 2]} is a list: name an item and its field, e.g. proxies[NAME].port`);
    (node as Record<string, unknown>)[p.path[p.path.length - 1]!] = p.value;
  }
}
