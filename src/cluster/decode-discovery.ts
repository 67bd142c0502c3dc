/**
 * Endpoints from JSON: discovery.k8s.io/v1 EndpointSlice and the legacy core/v1 Endpoints.
 *
 * @module
 */
import { tryParseIP } from '../net/index.js';
import type { CoreEndpointPort, Endpoint, EndpointAddress, EndpointPort, EndpointSlice, Endpoints, ObjectMeta } from './objects.js';
import { compact, Fields, ipProblem } from './fields.js';
import { invalid } from './issues.js';
import { PROTOCOLS } from './decode-core.js';

type TargetRef = NonNullable<Endpoint['targetRef']>;

function decodeTargetRef(f: Fields): TargetRef {
  return compact({ kind: f.string('kind'), namespace: f.string('namespace'), name: f.string('name'), uid: f.string('uid') });
}

function decodeEndpointPort(f: Fields): EndpointPort {
  return compact({
    name: f.string('name'),
    protocol: f.oneOf('protocol', PROTOCOLS),
    // A slice port without a number means "all ports" to the API; kube-proxy skips it.
    port: f.integer('port', { min: 1, max: 65535 }),
    appProtocol: f.string('appProtocol'),
  });
}

function decodeEndpoint(f: Fields, addressType: EndpointSlice['addressType'] | undefined): Endpoint {
  const addresses =
    f.list('addresses', (v, r) => {
      if (typeof v !== 'string') return r.error('', invalid(v, 'must be a string')), undefined;
      if (addressType === 'IPv4' || addressType === 'IPv6') {
        const why = ipProblem(v) ?? (tryParseIP(v)?.family === (addressType === 'IPv4' ? 4 : 6) ? undefined : `must be an ${addressType} address (addressType is ${addressType})`);
        if (why) return r.error('', invalid(v, why)), undefined;
      }
      return v;
    }, { required: true }) ?? [];
  const raw = f.raw('addresses');
  if (Array.isArray(raw) && raw.length === 0) f.report.error('addresses', 'Required value: must contain at least 1 address');
  const named = (z: Fields) => ({ name: z.string('name', { required: true }) ?? '' });
  const hints = f.object('hints', (h) => compact({ forZones: h.objects('forZones', named), forNodes: h.objects('forNodes', named) }));
  return compact({
    addresses,
    conditions: f.object('conditions', (c) => compact({ ready: c.boolean('ready'), serving: c.boolean('serving'), terminating: c.boolean('terminating') })),
    hostname: f.string('hostname'),
    targetRef: f.object('targetRef', decodeTargetRef),
    nodeName: f.string('nodeName'),
    zone: f.string('zone'),
    hints,
  });
}

export function decodeEndpointSlice(f: Fields, metadata: ObjectMeta): EndpointSlice {
  const addressType = f.oneOf('addressType', ['IPv4', 'IPv6', 'FQDN'] as const, { required: true });
  return compact({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice' as const,
    metadata,
    addressType: addressType ?? 'IPv4',
    // The API server prints `endpoints: null` for an empty slice.
    endpoints: f.objects('endpoints', (e) => decodeEndpoint(e, addressType)) ?? [],
    ports: f.objects('ports', decodeEndpointPort),
  });
}

function decodeEndpointAddress(f: Fields): EndpointAddress {
  return compact({
    ip: f.ip('ip', { required: true }) ?? '',
    hostname: f.string('hostname'),
    nodeName: f.string('nodeName'),
    targetRef: f.object('targetRef', decodeTargetRef),
  });
}

function decodeCorePort(f: Fields): CoreEndpointPort {
  return compact({
    name: f.string('name'),
    port: f.integer('port', { required: true, min: 1, max: 65535 }) ?? 0,
    protocol: f.oneOf('protocol', PROTOCOLS),
    appProtocol: f.string('appProtocol'),
  });
}

export function decodeEndpoints(f: Fields, metadata: ObjectMeta): Endpoints {
  return compact({
    apiVersion: 'v1',
    kind: 'Endpoints' as const,
    metadata,
    subsets: f.objects('subsets', (s) =>
      compact({
        addresses: s.objects('addresses', decodeEndpointAddress),
        notReadyAddresses: s.objects('notReadyAddresses', decodeEndpointAddress),
        ports: s.objects('ports', decodeCorePort),
      }),
    ),
  });
}
