/**
 * Ingresses as the cluster holds them: the API server's DefaultIngressClass admission plugin gives
 * an Ingress that names no class (neither `spec.ingressClassName` nor the deprecated annotation)
 * the default IngressClass, and what an Ingress points at is checked the way its controller would
 * find out (warnings: the API server accepts a backend Service that does not exist).
 *
 * @module
 */
import type { Ingress, IngressBackend, IngressClass, Service } from './objects.js';
import { DEFAULT_INGRESS_CLASS_ANNOTATION, INGRESS_CLASS_ANNOTATION } from './objects.js';
import { type Assumptions, objectName } from './assumptions.js';
import type { Reporter } from './issues.js';
import type { Item } from './nodes.js';

/**
 * The default IngressClass: those annotated `"true"`; of several the newest, ties by name (the
 * admission plugin's order). Manifests carry no creation times, so several defaults are told apart
 * by name, and the choice says so.
 */
export function defaultIngressClass(classes: readonly IngressClass[]): { cls: IngressClass; others: string[] } | undefined {
  const defaults = classes.filter((c) => c.metadata.annotations?.[DEFAULT_INGRESS_CLASS_ANNOTATION] === 'true').sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const [first, ...rest] = defaults;
  return first && { cls: first, others: rest.map((c) => c.metadata.name) };
}

/** SetDefaults_IngressClass: `spec.parameters.scope` is `Cluster` when not given. */
export function defaultIngressClasses(classes: readonly Item<IngressClass>[], assumptions: Assumptions): void {
  for (const { object: cls, report } of classes) {
    const params = cls.spec.parameters;
    if (!params || params.scope !== undefined) continue;
    params.scope = 'Cluster';
    assumptions.add(objectName('IngressClass', cls.metadata), 'spec.parameters.scope', 'Cluster', report.source);
  }
}

/** Give every Ingress without a class the default IngressClass, as the API server does on create. */
export function admitIngresses(ingresses: readonly Item<Ingress>[], classes: readonly IngressClass[], assumptions: Assumptions): void {
  const def = defaultIngressClass(classes);
  if (!def) return;
  for (const { object: ing, report } of ingresses) {
    if (ing.spec.ingressClassName !== undefined || ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION] !== undefined) continue;
    ing.spec.ingressClassName = def.cls.metadata.name;
    const several = def.others.length > 0 ? `; ${def.others.length + 1} classes are marked default (${[def.cls.metadata.name, ...def.others].join(', ')}): the API server takes the newest, kubepath has no creation times and takes the first by name` : '';
    assumptions.add(objectName('Ingress', ing.metadata), 'spec.ingressClassName', `${def.cls.metadata.name} (the default IngressClass, ${DEFAULT_INGRESS_CLASS_ANNOTATION}: "true"${several})`, report.source);
  }
}

function checkBackend(backend: IngressBackend, ns: string, services: ReadonlyMap<string, Service>, report: Reporter): void {
  if (backend.resource) {
    report.warn('resource', `a ${backend.resource.kind} resource backend: kept, but kubepath does not trace where it leads`);
    return;
  }
  const ref = backend.service;
  if (!ref) return;
  const svc = services.get(`${ns}/${ref.name}`);
  if (!svc) {
    report.warn('service.name', `no Service ${ns}/${ref.name}: the controller has no endpoints for it (ingress-nginx answers 503)`);
    return;
  }
  const ports = svc.spec.ports ?? [];
  const found = ref.port.name !== undefined ? ports.some((p) => p.name === ref.port.name) : ports.some((p) => p.port === ref.port.number);
  if (!found) {
    const wanted = ref.port.name !== undefined ? `no port named "${ref.port.name}"` : `no port ${ref.port.number}`;
    const has = ports.map((p) => (p.name ? `${p.name} (${p.port})` : String(p.port))).join(', ') || 'none';
    report.warn(ref.port.name !== undefined ? 'service.port.name' : 'service.port.number', `Service ${ns}/${ref.name} has ${wanted} (its ports: ${has}): the controller has no endpoints for it`);
  }
}

/** Warnings for what an Ingress points at that is not there: its class, its backends' Services and ports. */
export function checkIngressReferences(ingresses: readonly Item<Ingress>[], services: readonly Service[], classes: readonly IngressClass[]): void {
  const byKey = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const classNames = new Set(classes.map((c) => c.metadata.name));
  for (const { object: ing, report } of ingresses) {
    const ns = ing.metadata.namespace ?? 'default';
    const cls = ing.spec.ingressClassName;
    if (cls !== undefined && !classNames.has(cls)) report.warn('spec.ingressClassName', `no IngressClass "${cls}" was given: no controller serves this Ingress unless one is watching that class`);
    if (ing.spec.defaultBackend) checkBackend(ing.spec.defaultBackend, ns, byKey, report.at('spec.defaultBackend'));
    ing.spec.rules?.forEach((rule, r) =>
      rule.http?.paths.forEach((p, i) => checkBackend(p.backend, ns, byKey, report.at(`spec.rules[${r}].http.paths[${i}].backend`))),
    );
  }
}
