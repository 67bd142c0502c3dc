/**
 * One raw object to a typed one: the kind is told by `apiVersion` and `kind` (a Knative `Service`
 * is not a core Service), `metadata` is read and its name checked by the kind's rule, and the
 * kind's decoder reads the rest. Kinds kubepath does not model are returned as ignored.
 *
 * @module
 */
import type { RawObject } from './documents.js';
import type { IgnoredObject } from './model.js';
import type { ConfigMap, EndpointSlice, Endpoints, Ingress, IngressClass, KubeProxyConfiguration, Namespace, NetworkPolicy, Node, ObjectMeta, Pod, Service, Workload, WorkloadKind } from './objects.js';
import { decodeEndpoints, decodeEndpointSlice } from './decode-discovery.js';
import { decodeMeta, decodeNode, decodePod, decodeService } from './decode-core.js';
import { decodeWorkload } from './decode-apps.js';
import { decodeIngress, decodeIngressClass, decodeNetworkPolicy, NETWORKING_API_VERSION } from './decode-networking.js';
import { decodeEnvironment, ENVIRONMENT_API_VERSION, type Environment } from './environment.js';
import { compact, Fields } from './fields.js';
import { invalid, type Issues, REQUIRED, type Reporter, unsupported } from './issues.js';
import { decodeKubeProxyConfiguration, KUBE_PROXY_API_VERSION } from './kube-proxy-config.js';
import { nameProblem, type NameRule } from './names.js';

/** A decoded object of a kind kubepath models, with where it came from and its issues. */
export type Decoded = (
  | { kind: 'Namespace'; object: Namespace }
  | { kind: 'Node'; object: Node }
  | { kind: 'Pod'; object: Pod }
  | { kind: 'Service'; object: Service }
  | { kind: 'EndpointSlice'; object: EndpointSlice }
  | { kind: 'Endpoints'; object: Endpoints }
  | { kind: WorkloadKind; object: Workload }
  | { kind: 'ConfigMap'; object: ConfigMap }
  | { kind: 'Ingress'; object: Ingress }
  | { kind: 'IngressClass'; object: IngressClass }
  | { kind: 'NetworkPolicy'; object: NetworkPolicy }
  | { kind: 'KubeProxyConfiguration'; object: KubeProxyConfiguration }
  | { kind: 'Environment'; object: Environment }
) & { report: Reporter };

type Kind = Decoded['kind'];

interface KindInfo {
  apiVersion: string;
  /** Namespaced objects get `default` when they name none; config kinds have no metadata. */
  scope: 'namespaced' | 'cluster' | 'config';
  names: NameRule;
}

const KINDS: Record<Kind, KindInfo> = {
  Namespace: { apiVersion: 'v1', scope: 'cluster', names: 'dns1123Label' },
  Node: { apiVersion: 'v1', scope: 'cluster', names: 'dns1123Subdomain' },
  Pod: { apiVersion: 'v1', scope: 'namespaced', names: 'dns1123Subdomain' },
  Service: { apiVersion: 'v1', scope: 'namespaced', names: 'dns1035Label' },
  Endpoints: { apiVersion: 'v1', scope: 'namespaced', names: 'dns1035Label' },
  ConfigMap: { apiVersion: 'v1', scope: 'namespaced', names: 'dns1123Subdomain' },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', scope: 'namespaced', names: 'dns1123Subdomain' },
  Deployment: { apiVersion: 'apps/v1', scope: 'namespaced', names: 'dns1123Subdomain' },
  ReplicaSet: { apiVersion: 'apps/v1', scope: 'namespaced', names: 'dns1123Subdomain' },
  StatefulSet: { apiVersion: 'apps/v1', scope: 'namespaced', names: 'dns1123Label' },
  DaemonSet: { apiVersion: 'apps/v1', scope: 'namespaced', names: 'dns1123Subdomain' },
  Ingress: { apiVersion: NETWORKING_API_VERSION, scope: 'namespaced', names: 'dns1123Subdomain' },
  IngressClass: { apiVersion: NETWORKING_API_VERSION, scope: 'cluster', names: 'dns1123Subdomain' },
  NetworkPolicy: { apiVersion: NETWORKING_API_VERSION, scope: 'namespaced', names: 'dns1123Subdomain' },
  KubeProxyConfiguration: { apiVersion: KUBE_PROXY_API_VERSION, scope: 'config', names: 'dns1123Subdomain' },
  Environment: { apiVersion: ENVIRONMENT_API_VERSION, scope: 'config', names: 'dns1123Subdomain' },
};

/** The API group of an apiVersion: `apps` for `apps/v1`, `` for core `v1`. */
function group(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

function decodeBody(kind: Kind, f: Fields, metadata: ObjectMeta): Decoded['object'] {
  switch (kind) {
    case 'Namespace':
      return { apiVersion: 'v1', kind, metadata };
    case 'Node':
      return decodeNode(f, metadata);
    case 'Pod':
      return decodePod(f, metadata);
    case 'Service':
      return decodeService(f, metadata);
    case 'EndpointSlice':
      return decodeEndpointSlice(f, metadata);
    case 'Endpoints':
      return decodeEndpoints(f, metadata);
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      return decodeWorkload(f, kind, metadata);
    case 'ConfigMap':
      return decodeConfigMap(f, metadata);
    case 'Ingress':
      return decodeIngress(f, metadata);
    case 'IngressClass':
      return decodeIngressClass(f, metadata);
    case 'NetworkPolicy':
      return decodeNetworkPolicy(f, metadata);
    case 'KubeProxyConfiguration':
      return compact({ apiVersion: KUBE_PROXY_API_VERSION, kind, ...decodeKubeProxyConfiguration(f) });
    case 'Environment':
      return decodeEnvironment(f);
  }
}

const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;

/** Why `key` is not a ConfigMap data key (IsConfigMapKey), or undefined. */
function configMapKeyProblem(key: string): string | undefined {
  if (key.length > 253) return 'must be no more than 253 characters';
  if (!CONFIG_MAP_KEY.test(key)) return "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
  if (key === '.') return "must not be '.'";
  if (key === '..') return "must not be '..'";
  if (key.startsWith('..')) return "must not start with '..'";
  return undefined;
}

/** A ConfigMap: its data, each key checked as the API server checks it. */
function decodeConfigMap(f: Fields, metadata: ObjectMeta): ConfigMap {
  const data = f.stringMap('data');
  for (const key of Object.keys(data ?? {})) {
    const why = configMapKeyProblem(key);
    if (why) f.report.error(`data[${key}]`, invalid(key, why));
  }
  return compact({ apiVersion: 'v1', kind: 'ConfigMap' as const, metadata, data });
}

/** What one raw object is: a decoded object, an ignored one, or nothing (its issues were reported). */
export type DecodeResult = { decoded: Decoded } | { ignored: IgnoredObject } | undefined;

/** Decode one raw object. */
export function decodeObject(raw: RawObject, issues: Issues): DecodeResult {
  const report = issues.reporter(raw.source);
  const f = Fields.of(raw.value, report);
  if (!f) return undefined;
  const apiVersion = f.string('apiVersion', { required: true });
  const kind = f.string('kind', { required: true });
  if (apiVersion === undefined || kind === undefined) return undefined;
  const info = Object.hasOwn(KINDS, kind) ? KINDS[kind as Kind] : undefined;
  const rawName = (f.raw('metadata') as { name?: unknown } | undefined)?.name;
  const ignored = { ignored: { apiVersion, kind, name: typeof rawName === 'string' ? rawName : '', source: raw.source } };
  if (!info || group(apiVersion) !== group(info.apiVersion)) return ignored;
  if (apiVersion !== info.apiVersion) {
    report.error('apiVersion', unsupported(apiVersion, [info.apiVersion]));
    return undefined;
  }
  let metadata: ObjectMeta = { name: '' };
  if (info.scope !== 'config') {
    metadata = f.object('metadata', decodeMeta, { required: true }) ?? metadata;
    if (!metadata.name) {
      if (f.has('metadata')) report.error('metadata.name', REQUIRED);
      return undefined;
    }
    const why = nameProblem(metadata.name, info.names);
    if (why) report.error('metadata.name', invalid(metadata.name, why));
    if (info.scope === 'cluster') delete metadata.namespace;
    else if (metadata.namespace !== undefined) {
      const bad = nameProblem(metadata.namespace, 'dns1123Label');
      if (bad) report.error('metadata.namespace', invalid(metadata.namespace, bad));
    }
  }
  return { decoded: { kind, object: decodeBody(kind as Kind, f, metadata), report } as Decoded };
}
