/**
 * Pods from workloads, as their controllers would make them, for "what if I deploy this" use:
 * a Deployment's through its ReplicaSet (`web-<pod-template-hash>-<suffix>`), a ReplicaSet's
 * (`rs-<suffix>`), a StatefulSet's (`db-0`, `db-1`, with hostname and subdomain), a DaemonSet's
 * (one per node). A workload whose pods are among the given ones (a `kubectl get all` dump) makes none.
 *
 * @module
 */
import type { ObjectMeta, OwnerReference, Pod, Workload } from './objects.js';
import type { Assumptions } from './assumptions.js';
import { objectName } from './assumptions.js';
import { nameSuffix, podTemplateHash } from './names.js';
import type { Item } from './nodes.js';
import { matchesSelector } from './selectors.js';

function owner(kind: string, name: string): OwnerReference {
  return { apiVersion: 'apps/v1', kind, name, controller: true };
}

/** The pod a workload's template makes, named `name`. */
function podFromTemplate(w: Workload, name: string, extra: { labels?: Record<string, string>; owner: OwnerReference; nodeName?: string; hostname?: string }): Pod {
  const template = w.spec.template;
  const metadata: ObjectMeta = {
    name,
    namespace: w.metadata.namespace!,
    labels: { ...template.metadata?.labels, ...extra.labels },
    ownerReferences: [extra.owner],
  };
  if (template.metadata?.annotations) metadata.annotations = { ...template.metadata.annotations };
  const spec = structuredClone(template.spec);
  if (extra.nodeName) spec.nodeName = extra.nodeName;
  if (extra.hostname) {
    spec.hostname = extra.hostname;
    if (w.spec.serviceName) spec.subdomain = w.spec.serviceName;
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

/** True when the given pods or ReplicaSets already stand for this workload's pods. */
function represented(w: Workload, pods: readonly Pod[], workloads: readonly Workload[]): boolean {
  const ns = w.metadata.namespace;
  if (pods.some((p) => p.metadata.namespace === ns && matchesSelector(w.spec.selector, p.metadata.labels))) return true;
  return (
    w.kind === 'Deployment' &&
    workloads.some((o) => o.kind === 'ReplicaSet' && o.metadata.namespace === ns && o.metadata.ownerReferences?.some((r) => r.kind === 'Deployment' && r.name === w.metadata.name))
  );
}

/**
 * The pods the workloads' controllers would create. `pods` are the given pods; `nodeNames` the
 * nodes, for DaemonSets. Each workload that makes pods is reported as an assumption.
 */
export function workloadPods(workloads: readonly Item<Workload>[], pods: readonly Pod[], nodeNames: readonly string[], assumptions: Assumptions): Item<Pod>[] {
  const out: Item<Pod>[] = [];
  const all = workloads.map((w) => w.object);
  for (const { object: w, report } of workloads) {
    if (represented(w, pods, all)) continue;
    const ns = w.metadata.namespace!;
    const name = w.metadata.name;
    const made: Pod[] = [];
    const replicas = w.spec.replicas ?? 1;
    if (w.kind !== 'DaemonSet' && w.spec.replicas === undefined) assumptions.add(objectName(w.kind, w.metadata), 'spec.replicas', '1 (the default)', report.source);
    switch (w.kind) {
      case 'Deployment': {
        const hash = podTemplateHash(w.spec.template);
        const rs = `${name}-${hash}`;
        for (let i = 0; i < replicas; i++) {
          made.push(podFromTemplate(w, `${rs}-${nameSuffix(`${ns}/${rs}/${i}`)}`, { labels: { 'pod-template-hash': hash }, owner: owner('ReplicaSet', rs) }));
        }
        break;
      }
      case 'ReplicaSet':
        for (let i = 0; i < replicas; i++) made.push(podFromTemplate(w, `${name}-${nameSuffix(`${ns}/${name}/${i}`)}`, { owner: owner('ReplicaSet', name) }));
        break;
      case 'StatefulSet':
        for (let i = 0; i < replicas; i++) {
          const pod = `${name}-${i}`;
          const labels = { 'statefulset.kubernetes.io/pod-name': pod, 'apps.kubernetes.io/pod-index': String(i) };
          made.push(podFromTemplate(w, pod, { labels, owner: owner('StatefulSet', name), hostname: pod }));
        }
        break;
      case 'DaemonSet':
        for (const node of nodeNames) made.push(podFromTemplate(w, `${name}-${nameSuffix(`${ns}/${name}/${node}`)}`, { owner: owner('DaemonSet', name), nodeName: node }));
        break;
    }
    if (made.length === 0) continue;
    const what = w.kind === 'DaemonSet' ? 'one per node' : `${made.length} replica${made.length === 1 ? '' : 's'}`;
    assumptions.add(objectName(w.kind, w.metadata), 'pods', `${made.map((p) => p.metadata.name).join(', ')} (${what}; no pods of it were given)`, report.source);
    // Issues about a made pod point at the template it came from.
    for (const pod of made) out.push({ object: pod, report: report.at('spec.template') });
  }
  return out;
}
