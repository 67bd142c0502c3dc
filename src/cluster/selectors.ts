/**
 * Label selectors: a Service's plain map, and workloads' matchLabels/matchExpressions.
 *
 * @module
 */
import type { LabelSelector } from './objects.js';

/** True when `labels` has every key of `selector` with its value (a Service selector). */
export function matchesMap(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** True when `labels` satisfy a workload's label selector. An empty selector matches everything. */
export function matchesSelector(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  if (selector.matchLabels && !matchesMap(selector.matchLabels, labels)) return false;
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const has = labels !== undefined && Object.hasOwn(labels, key);
    switch (operator) {
      case 'In':
        return has && values.includes(labels[key]!);
      case 'NotIn':
        return !has || !values.includes(labels[key]!);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
    }
  });
}
