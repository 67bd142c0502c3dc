/**
 * Shared helpers for the edge tests: connections as a hop receives them.
 */
import type { ConnectionPayload, HeaderField, ProxyDecision, ProxyHeaderSent } from '../../src/edge/request.js';

export interface PayloadInit {
  peer: string;
  local?: string;
  host?: string;
  path?: string;
  scheme?: 'http' | 'https';
  method?: string;
  headers?: HeaderField[];
  proxyHeader?: ProxyHeaderSent;
  /** No HTTP at all (raw TCP). */
  raw?: boolean;
}

/** An HTTP request on one connection; the Host field comes first unless `headers` has one. */
export function payload(init: PayloadInit): ConnectionPayload {
  const host = init.host ?? 'shop.example.com';
  const headers: HeaderField[] = init.headers?.some(([n]) => n.toLowerCase() === 'host') ? init.headers : [['Host', host], ...(init.headers ?? [])];
  return {
    peer: init.peer,
    local: init.local ?? '10.244.1.5:80',
    proxyHeader: init.proxyHeader,
    http: init.raw ? undefined : { method: init.method ?? 'GET', host, path: init.path ?? '/', scheme: init.scheme ?? 'http', headers },
  };
}

/** The decision must forward; its upstream header fields. */
export function forwarded(d: ProxyDecision): Extract<ProxyDecision, { kind: 'forward' }> {
  if (d.kind !== 'forward') throw new Error(`expected forward, got refuse: ${d.reason}`);
  return d;
}

/** The value of one upstream field (lines joined), or undefined when absent. */
export function field(d: ProxyDecision, name: string): string | undefined {
  const values = (forwarded(d).upstream.http?.headers ?? []).filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  return values.length ? values.join(', ') : undefined;
}
