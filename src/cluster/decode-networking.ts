/**
 * networking.k8s.io/v1 kinds from JSON: Ingress and IngressClass, checked as the API server's
 * validation checks them (ValidateIngressSpec, ValidateIngressClassSpec): pathType required and
 * one of three, absolute paths for Exact and Prefix, a backend's port by number or by name (not
 * both), hosts that are DNS names or `*.` wildcards and not IP addresses, a controller that is a
 * domain-prefixed path. Messages use the API server's words and name the field.
 *
 * @module
 */
import { parseIPSloppy } from '../net/index.js';
import type {
  HTTPIngressPath,
  Ingress,
  IngressBackend,
  IngressClass,
  IngressClassParametersReference,
  IngressRule,
  IngressSpec,
  IngressTLS,
  ObjectMeta,
  PathType,
  ServiceBackendPort,
  TypedLocalObjectReference,
} from './objects.js';
import { INGRESS_CLASS_ANNOTATION } from './objects.js';
import { checkInteger, compact, Fields } from './fields.js';
import { forbidden, invalid, REQUIRED, type Reporter } from './issues.js';
import { nameProblem, portNameProblem } from './names.js';

export const NETWORKING_API_VERSION = 'networking.k8s.io/v1';

/** As the API server lists them (sorted). */
export const PATH_TYPES: readonly PathType[] = ['Exact', 'ImplementationSpecific', 'Prefix'];

const WILDCARD_DNS1123_SUBDOMAIN = /^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const WILDCARD_MESSAGE =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";

/** Why `host` is not an Ingress host (a DNS subdomain, or a `*.` wildcard one), or undefined. */
export function ingressHostProblems(host: string): string[] {
  const problems: string[] = [];
  if (parseIPSloppy(host)) problems.push('must be a DNS name, not an IP address');
  if (host.includes('*')) {
    if (host.length > 253) problems.push('must be no more than 253 characters');
    else if (!WILDCARD_DNS1123_SUBDOMAIN.test(host)) problems.push(WILDCARD_MESSAGE);
  } else {
    const why = nameProblem(host, 'dns1123Subdomain');
    if (why) problems.push(why);
  }
  return problems;
}

function checkHost(host: string, report: Reporter): void {
  for (const why of ingressHostProblems(host)) report.error('', invalid(host, why));
}

// Sequences and endings the API server refuses in Exact and Prefix paths.
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];

function decodeServicePort(f: Fields): ServiceBackendPort {
  const name = f.string('name');
  const number = f.raw('number') === undefined ? undefined : checkInteger(f.raw('number'), f.report.at('number'), { min: 1, max: 65535 });
  if (name && f.raw('number') !== undefined) f.report.error('', invalid({ name, number: f.raw('number') }, 'cannot set both port name & port number'));
  else if (name) {
    const why = portNameProblem(name);
    if (why) f.report.error('name', invalid(name, why));
  } else if (f.raw('number') === undefined) f.report.error('', 'Required value: port name or number is required');
  return compact({ name: name || undefined, number });
}

function decodeResource(f: Fields): TypedLocalObjectReference {
  const apiGroup = f.string('apiGroup');
  if (apiGroup) {
    const why = nameProblem(apiGroup, 'dns1123Subdomain');
    if (why) f.report.error('apiGroup', invalid(apiGroup, why));
  }
  return compact({ apiGroup: apiGroup || undefined, kind: f.string('kind', { required: true }) ?? '', name: f.string('name', { required: true }) ?? '' });
}

/** validateIngressBackend: exactly one of service and resource; a service's name and port. */
function decodeBackend(f: Fields): IngressBackend {
  const hasService = f.has('service');
  const hasResource = f.has('resource');
  if (hasService && hasResource) f.report.error('', invalid('', 'cannot set both resource and service backends'));
  else if (!hasService && !hasResource) f.report.error('', invalid('', 'resource or service backend is required'));
  const service = f.object('service', (s) => {
    const name = s.string('name', { required: true }) ?? '';
    if (name) {
      const why = nameProblem(name, 'dns1035Label');
      if (why) s.report.error('name', invalid(name, why));
    }
    const port = s.object('port', decodeServicePort);
    if (!s.has('port')) s.report.error('port', 'Required value: port name or number is required');
    return { name, port: port ?? {} };
  });
  return compact({ service, resource: f.object('resource', decodeResource) });
}

function decodePath(f: Fields): HTTPIngressPath | undefined {
  const path = f.string('path');
  // Without a pathType the API server says only that: the path and backend are not looked at.
  if (!f.has('pathType')) {
    f.report.error('pathType', 'Required value: pathType must be specified');
    return undefined;
  }
  const pathType = f.oneOf('pathType', PATH_TYPES);
  const p = path ?? '';
  if (pathType === 'Exact' || pathType === 'Prefix') {
    if (!p.startsWith('/')) f.report.error('path', invalid(p, 'must be an absolute path'));
    if (p.length > 0) {
      for (const seq of INVALID_PATH_SEQUENCES) if (p.includes(seq)) f.report.error('path', invalid(p, `must not contain '${seq}'`));
      for (const end of INVALID_PATH_SUFFIXES) if (p.endsWith(end)) f.report.error('path', invalid(p, `cannot end with '${end}'`));
    }
  } else if (pathType === 'ImplementationSpecific' && p.length > 0 && !p.startsWith('/')) f.report.error('path', invalid(p, 'must be an absolute path'));
  const backend = f.object('backend', decodeBackend) ?? decodeBackendMissing(f.report.at('backend'));
  return pathType ? compact({ path, pathType, backend }) : undefined;
}

/** A path without a backend: the API server validates the empty backend. */
function decodeBackendMissing(report: Reporter): IngressBackend {
  report.error('', invalid('', 'resource or service backend is required'));
  return {};
}

function decodeRule(f: Fields): IngressRule {
  const host = f.string('host');
  if (host) checkHost(host, f.report.at('host'));
  const http = f.object('http', (h) => {
    const paths = h.objects('paths', decodePath) ?? [];
    const raw = h.raw('paths');
    if (!Array.isArray(raw) || raw.length === 0) h.report.error('paths', REQUIRED);
    return { paths };
  });
  return compact({ host: host || undefined, http });
}

function decodeTLS(f: Fields): IngressTLS {
  const hosts = f.strings('hosts');
  hosts?.forEach((h, i) => checkHost(h, f.report.at(`hosts[${i}]`)));
  const secretName = f.string('secretName');
  if (secretName) {
    const why = nameProblem(secretName, 'dns1123Subdomain');
    if (why) f.report.error('secretName', invalid(secretName, why));
  }
  return compact({ hosts, secretName: secretName || undefined });
}

/** An Ingress as the API server accepts it on create. */
export function decodeIngress(f: Fields, metadata: ObjectMeta): Ingress {
  const spec: IngressSpec =
    f.object('spec', (s) => {
      const ingressClassName = s.string('ingressClassName');
      if (ingressClassName) {
        const why = nameProblem(ingressClassName, 'dns1123Subdomain');
        if (why) s.report.error('ingressClassName', invalid(ingressClassName, why));
      }
      const out = compact({
        ingressClassName: ingressClassName || undefined,
        defaultBackend: s.object('defaultBackend', decodeBackend),
        rules: s.objects('rules', decodeRule),
        tls: s.objects('tls', decodeTLS),
      });
      if (!s.has('defaultBackend') && !(Array.isArray(s.raw('rules')) && (s.raw('rules') as unknown[]).length > 0)) {
        s.report.error('', invalid(undefined, 'either `defaultBackend` or `rules` must be specified'));
      }
      return out;
    }) ?? {};
  if (!f.has('spec')) f.report.error('spec', invalid(undefined, 'either `defaultBackend` or `rules` must be specified'));
  const annotated = metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (spec.ingressClassName !== undefined && annotated !== undefined) {
    f.report.error(`metadata.annotations[${INGRESS_CLASS_ANNOTATION}]`, invalid(annotated, 'can not be set when the class field is also set'));
  }
  return { apiVersion: NETWORKING_API_VERSION, kind: 'Ingress', metadata, spec };
}

const HTTP_PATH = /^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

/** Why `text` is not a domain-prefixed path (`k8s.io/ingress-nginx`), as IsDomainPrefixedPath says. */
function checkDomainPrefixedPath(text: string, report: Reporter): void {
  if (text.length > 250) return report.error('', `Too long: may not be more than 250 bytes`);
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return report.error('', invalid(text, 'must be a domain-prefixed path (such as "acme.io/foo")'));
  const host = text.slice(0, slash);
  const why = nameProblem(host, 'dns1123Subdomain');
  if (why) report.error('', invalid(host, why));
  const path = text.slice(slash + 1);
  if (!HTTP_PATH.test(path)) report.error('', invalid(path, "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"));
}

function decodeParameters(f: Fields): IngressClassParametersReference {
  const apiGroup = f.string('apiGroup');
  if (apiGroup) {
    const why = nameProblem(apiGroup, 'dns1123Subdomain');
    if (why) f.report.error('apiGroup', invalid(apiGroup, why));
  }
  const scope = f.oneOf('scope', ['Cluster', 'Namespace'] as const);
  const namespace = f.string('namespace');
  const effective = scope ?? (f.has('scope') ? undefined : 'Cluster');
  if (effective === 'Namespace' && !namespace) f.report.error('namespace', "Required value: `parameters.scope` is set to 'Namespace'");
  if (effective === 'Cluster' && namespace) f.report.error('namespace', forbidden("`parameters.scope` is set to 'Cluster'"));
  if (namespace) {
    const why = nameProblem(namespace, 'dns1123Label');
    if (why) f.report.error('namespace', invalid(namespace, why));
  }
  return compact({
    apiGroup: apiGroup || undefined,
    kind: f.string('kind', { required: true }) ?? '',
    name: f.string('name', { required: true }) ?? '',
    scope,
    namespace: namespace || undefined,
  });
}

/** An IngressClass as the API server accepts it. */
export function decodeIngressClass(f: Fields, metadata: ObjectMeta): IngressClass {
  const spec =
    f.object('spec', (s) => {
      const controller = s.string('controller');
      if (controller === undefined || controller === '') s.report.error('controller', REQUIRED);
      else checkDomainPrefixedPath(controller, s.report.at('controller'));
      return compact({ controller: controller || undefined, parameters: s.object('parameters', decodeParameters) });
    }) ?? {};
  if (!f.has('spec')) f.report.error('spec.controller', REQUIRED);
  return { apiVersion: NETWORKING_API_VERSION, kind: 'IngressClass', metadata, spec };
}
