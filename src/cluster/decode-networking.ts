/**
 * networking.k8s.io/v1 kinds from JSON: Ingress, IngressClass and NetworkPolicy, checked as the
 * API server's validation checks them (ValidateIngressSpec, ValidateIngressClassSpec,
 * ValidateNetworkPolicySpec): pathType required and one of three, absolute paths for Exact and
 * Prefix, a backend's port by number or by name (not both), hosts that are DNS names or `*.`
 * wildcards and not IP addresses, a controller that is a domain-prefixed path; a policy's
 * selectors, peers (at least one kind, ipBlock alone), ipBlock CIDRs and their excepts (strict
 * subsets), ports (number or name, endPort only after a number and not below it, TCP/UDP/SCTP)
 * and policyTypes. Messages use the API server's words and name the field.
 *
 * @module
 */
import { AddressError, formatNetwork, networkContains, parseIPSloppy, parseNetwork, tryParseIP, type IPNetwork } from '../net/index.js';
import type {
  IPBlock,
  LabelSelector,
  LabelSelectorRequirement,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicySpec,
  PolicyType,
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
import { checkInteger, compact, Fields, ipProblem } from './fields.js';
import { forbidden, invalid, REQUIRED, type Reporter, unsupported } from './issues.js';
import { PROTOCOLS } from './decode-core.js';
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

// ---- NetworkPolicy ----

/** As the API server lists them. */
export const POLICY_TYPES: readonly PolicyType[] = ['Ingress', 'Egress'];
const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QUALIFIED_NAME_MESSAGE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/** Why `key` is not a label key (IsQualifiedName: an optional DNS-subdomain prefix and a name), or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0) return 'prefix part must be non-empty';
    const why = nameProblem(prefix, 'dns1123Subdomain');
    if (why) return `prefix part ${why}`;
  }
  if (name.length === 0) return "name part must be non-empty";
  if (name.length > 63) return 'name part must be no more than 63 characters';
  return QUALIFIED_NAME.test(name) ? undefined : QUALIFIED_NAME_MESSAGE;
}

/** Why `value` is not a label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  return value === '' || QUALIFIED_NAME.test(value) ? undefined : LABEL_VALUE_MESSAGE;
}

function decodeRequirement(f: Fields): LabelSelectorRequirement | undefined {
  const key = f.string('key', { required: true });
  if (key) {
    const why = labelKeyProblem(key);
    if (why) f.report.error('key', invalid(key, why));
  }
  const operator = f.string('operator', { required: true });
  const values = f.strings('values');
  if (operator === undefined) return undefined;
  if (!(SELECTOR_OPERATORS as readonly string[]).includes(operator)) {
    f.report.error('operator', invalid(operator, 'not a valid selector operator'));
    return undefined;
  }
  if ((operator === 'In' || operator === 'NotIn') && (values ?? []).length === 0) f.report.error('values', "Required value: must be specified when `operator` is 'In' or 'NotIn'");
  if ((operator === 'Exists' || operator === 'DoesNotExist') && (values ?? []).length > 0) f.report.error('values', forbidden("may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
  values?.forEach((v, i) => {
    const why = labelValueProblem(v);
    if (why) f.report.error(`values[${i}]`, invalid(v, why));
  });
  return compact({ key: key ?? '', operator: operator as LabelSelectorRequirement['operator'], values: values && values.length > 0 ? values : undefined });
}

/** A label selector as ValidateLabelSelector checks it: keys and values of matchLabels, each requirement's operator and values. */
export function decodeLabelSelector(f: Fields): LabelSelector {
  const matchLabels = f.stringMap('matchLabels');
  for (const [k, v] of Object.entries(matchLabels ?? {})) {
    const why = labelKeyProblem(k);
    if (why) f.report.error('matchLabels', invalid(k, why));
    const bad = labelValueProblem(v);
    if (bad) f.report.error(`matchLabels`, invalid(v, bad));
  }
  return compact({ matchLabels, matchExpressions: f.objects('matchExpressions', decodeRequirement) });
}

/** A CIDR as IsValidCIDR takes it (host bits allowed, leading zeros not), or why not. */
function policyCIDR(text: string): IPNetwork | string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  if (slash < 0 || ipProblem(address)) return 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';
  try {
    return parseNetwork(text);
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
    return 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';
  }
}

/** ValidateIPBlock: a CIDR, and excepts that are strict subsets of it. Host bits are a warning, as the API server warns. */
function decodeIPBlock(f: Fields): IPBlock | undefined {
  const cidr = f.string('cidr');
  const except = f.strings('except');
  if (!cidr) {
    f.report.error('cidr', REQUIRED);
    return undefined;
  }
  const net = policyCIDR(cidr);
  if (typeof net === 'string') {
    f.report.error('cidr', invalid(cidr, net));
    return undefined;
  }
  if (tryParseIP(cidr.slice(0, cidr.indexOf('/')))?.value !== net.network.value) {
    f.report.warn('cidr', `${JSON.stringify(cidr)} has host bits set: it means ${formatNetwork(net)}`);
  }
  except?.forEach((text, i) => {
    const ex = policyCIDR(text);
    if (typeof ex === 'string') return f.report.error(`except[${i}]`, invalid(text, ex));
    if (ex.family !== net.family || !networkContains(net, ex.network) || (net.prefixLength ?? 0) >= (ex.prefixLength ?? 0)) {
      f.report.error(`except[${i}]`, invalid(text, 'must be a strict subset of `cidr`'));
    }
  });
  return compact({ cidr, except: except && except.length > 0 ? except : undefined });
}

/** ValidateNetworkPolicyPeer: at least one of the three; ipBlock only alone. */
function decodePeer(f: Fields): NetworkPolicyPeer | undefined {
  const podSelector = f.object('podSelector', decodeLabelSelector);
  const namespaceSelector = f.object('namespaceSelector', decodeLabelSelector);
  const ipBlock = f.has('ipBlock') ? f.object('ipBlock', decodeIPBlock) : undefined;
  const given = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => f.has(k));
  if (given.length === 0) f.report.error('', 'Required value: must specify a peer');
  else if (given.length > 1 && f.has('ipBlock')) f.report.error('', forbidden('may not specify both ipBlock and another peer'));
  return compact({ podSelector, namespaceSelector, ipBlock });
}

/** ValidateNetworkPolicyPort. */
function decodePolicyPort(f: Fields): NetworkPolicyPort {
  const protocol = f.has('protocol') ? f.oneOf('protocol', PROTOCOLS) : undefined;
  const raw = f.raw('port');
  const endPort = f.raw('endPort') === undefined ? undefined : checkInteger(f.raw('endPort'), f.report.at('endPort'));
  let port: number | string | undefined;
  if (typeof raw === 'string') {
    const why = portNameProblem(raw);
    if (why) f.report.error('port', invalid(raw, why));
    else port = raw;
    if (f.raw('endPort') !== undefined) f.report.error('endPort', invalid(f.raw('endPort'), 'may not be specified when `port` is non-numeric'));
  } else if (raw !== undefined) {
    port = checkInteger(raw, f.report.at('port'), { min: 1, max: 65535 });
    if (endPort !== undefined && port !== undefined) {
      if (endPort < port) f.report.error('endPort', invalid(port, 'must be greater than or equal to `port`'));
      if (endPort < 1 || endPort > 65535) f.report.error('endPort', invalid(endPort, 'must be between 1 and 65535, inclusive'));
    }
  } else if (f.raw('endPort') !== undefined) {
    f.report.error('endPort', invalid(f.raw('endPort'), 'may not be specified when `port` is not specified'));
  }
  return compact({ protocol, port, endPort: typeof port === 'number' ? endPort : undefined });
}

function decodeRules<K extends 'from' | 'to'>(f: Fields, key: 'ingress' | 'egress', peers: K) {
  return f.objects(key, (r) => compact({ [peers]: r.objects(peers, decodePeer), ports: r.objects('ports', decodePolicyPort) }) as { [P in K]?: NetworkPolicyPeer[] } & { ports?: NetworkPolicyPort[] });
}

/** A NetworkPolicy as the API server accepts it. Defaults (protocol TCP, implied policyTypes) are left to the policy engine, which says when it applied them. */
export function decodeNetworkPolicy(f: Fields, metadata: ObjectMeta): NetworkPolicy {
  const spec: NetworkPolicySpec =
    f.object('spec', (s) => {
      // In the API server's order: podSelector, ingress, egress, policyTypes.
      const podSelector = s.object('podSelector', decodeLabelSelector) ?? {};
      const ingress = decodeRules(s, 'ingress', 'from');
      const egress = decodeRules(s, 'egress', 'to');
      const policyTypes = s.list('policyTypes', (v, r) => {
        if (v === 'Ingress' || v === 'Egress') return v as PolicyType;
        r.error('', unsupported(v, POLICY_TYPES));
        return undefined;
      });
      const raw = s.raw('policyTypes');
      if (Array.isArray(raw) && raw.length > 2) s.report.error('policyTypes', invalid(raw, 'may not specify more than two policyTypes'));
      return compact({ podSelector, policyTypes, ingress, egress });
    }) ?? { podSelector: {} };
  return { apiVersion: NETWORKING_API_VERSION, kind: 'NetworkPolicy', metadata, spec };
}
