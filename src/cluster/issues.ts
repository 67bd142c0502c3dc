/**
 * Load issues: every error and warning of one load, collected so that all of them are reported
 * together, and the error that carries them. Messages use the API server's words ("Required
 * value", "Invalid value", "Unsupported value", "Duplicate value") so they read like kubectl's.
 *
 * @module
 */
import type { ClusterLoadIssue, SourceRef } from './model.js';

/** `svc.yaml#2 spec.ports[0].targetPort: named port "http" not found on any selected pod`. */
export function formatIssue(issue: ClusterLoadIssue): string {
  const { file, document, path } = issue.source;
  return `${file}#${document}${path ? ` ${path}` : ''}: ${issue.message}`;
}

/** Thrown by loadCluster when anything is wrong: every issue of the load, nothing half-loaded. */
export class ClusterLoadError extends Error {
  override readonly name = 'ClusterLoadError';
  readonly issues: readonly ClusterLoadIssue[];
  constructor(issues: readonly ClusterLoadIssue[]) {
    const head = issues.length === 1 ? 'cannot load the cluster: 1 error' : `cannot load the cluster: ${issues.length} errors`;
    super([head, ...issues.map((i) => `  ${formatIssue(i)}`)].join('\n'));
    this.issues = issues;
  }
}

/** True for a ClusterLoadError. */
export function isClusterLoadError(e: unknown): e is ClusterLoadError {
  return e instanceof ClusterLoadError;
}

/** A field path below another: `spec` + `ports[0]` = `spec.ports[0]`; `` + `spec` = `spec`. */
export function joinPath(base: string, path: string): string {
  if (!base) return path;
  if (!path) return base;
  return path.startsWith('[') ? `${base}${path}` : `${base}.${path}`;
}

/** Where to report problems about one object (or one part of it). */
export interface Reporter {
  readonly source: SourceRef;
  error(path: string, message: string): void;
  warn(path: string, message: string): void;
  /** A reporter for a field below this one. */
  at(path: string): Reporter;
  /** How many errors were reported through this reporter and those made from it. */
  readonly errorCount: number;
}

/** The issues of one load. */
export class Issues {
  readonly errors: ClusterLoadIssue[] = [];
  readonly warnings: ClusterLoadIssue[] = [];

  /** A reporter for an object found at `source`. */
  reporter(source: SourceRef): Reporter {
    return this.#reporter(source, { n: 0 });
  }

  #reporter(source: SourceRef, count: { n: number }): Reporter {
    const issues = this;
    const ref = (path: string): SourceRef => ({ ...source, path: joinPath(source.path, path) });
    return {
      source,
      error(path, message) {
        count.n++;
        issues.errors.push({ source: ref(path), message });
      },
      warn(path, message) {
        issues.warnings.push({ source: ref(path), message });
      },
      at(path) {
        return issues.#reporter(ref(path), count);
      },
      get errorCount() {
        return count.n;
      },
    };
  }
}

/** Kubernetes' way of showing a value in a message: strings quoted, numbers as they are. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  const json = JSON.stringify(value);
  return json.length <= 80 ? json : `${json.slice(0, 77)}...`;
}

/** `Invalid value: "10.0.0.012": must be a valid IP address`. */
export function invalid(value: unknown, why: string): string {
  return `Invalid value: ${showValue(value)}: ${why}`;
}

export const REQUIRED = 'Required value';

/** `Unsupported value: "Nodeport": supported values: "ClusterIP", "NodePort"`. */
export function unsupported(value: unknown, supported: readonly string[]): string {
  return `Unsupported value: ${showValue(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`;
}

/** `Duplicate value: "http"`, with what it collides with when that helps. */
export function duplicate(value: unknown, detail?: string): string {
  return `Duplicate value: ${showValue(value)}${detail ? `: ${detail}` : ''}`;
}

/** `Forbidden: may not be set for ExternalName services`. */
export function forbidden(why: string): string {
  return `Forbidden: ${why}`;
}
