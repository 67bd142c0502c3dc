/**
 * apps/v1 workloads from JSON: Deployment, ReplicaSet, StatefulSet, DaemonSet. kubepath reads
 * the selector, replicas and pod template, to make the pods the controllers would.
 *
 * @module
 */
import type { LabelSelector, ObjectMeta, Workload, WorkloadKind } from './objects.js';
import { compact, type Fields } from './fields.js';
import { invalid } from './issues.js';
import { decodePodSpec } from './decode-core.js';
import { matchesSelector } from './selectors.js';

function decodeSelector(f: Fields): LabelSelector {
  return compact({
    matchLabels: f.stringMap('matchLabels'),
    matchExpressions: f.objects('matchExpressions', (e) =>
      compact({
        key: e.string('key', { required: true }) ?? '',
        operator: e.oneOf('operator', ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, { required: true }) ?? 'Exists',
        values: e.strings('values'),
      }),
    ),
  });
}

export function decodeWorkload(f: Fields, kind: WorkloadKind, metadata: ObjectMeta): Workload {
  const spec = f.object(
    'spec',
    (s) => {
      const selector = s.object('selector', decodeSelector, { required: true }) ?? {};
      const template = s.object(
        'template',
        (t) => ({
          metadata: t.object('metadata', (m) => compact({ labels: m.stringMap('labels'), annotations: m.stringMap('annotations') })),
          spec: t.object('spec', decodePodSpec, { required: true }) ?? { containers: [] },
        }),
        { required: true },
      );
      // The API server refuses a workload whose pods its own selector would not select.
      if (template && s.has('selector') && !matchesSelector(selector, template.metadata?.labels)) {
        s.report.error('template.metadata.labels', invalid(template.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
      }
      return compact({
        replicas: kind === 'DaemonSet' ? undefined : s.integer('replicas', { min: 0 }),
        selector,
        template: template ?? { spec: { containers: [] } },
        serviceName: kind === 'StatefulSet' ? s.string('serviceName') : undefined,
      });
    },
    { required: true },
  );
  return { apiVersion: 'apps/v1', kind, metadata, spec: spec ?? { selector: {}, template: { spec: { containers: [] } } } };
}
