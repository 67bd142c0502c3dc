/**
 * One connection's outcome as `lab verify` counts it, from the echo server's answer (the probe) or
 * from the trace's app view (the prediction), in one form so that the two compare as text:
 * `CLIENT_ADDRESS`, then ` · PROXY vN SRC` when a PROXY header reached the app (its source
 * address), then ` · XFF A, B` when the request the app got carries X-Forwarded-For (every field,
 * in order, joined). Kept small: the probe agent imports it.
 *
 * @module
 */

/** `IP:port`, `[IP]:port` or `IP` → IP. */
function hostOf(endpoint: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (m) return m[1]!;
  return endpoint.split('.').length === 4 && endpoint.includes(':') ? endpoint.slice(0, endpoint.lastIndexOf(':')) : endpoint;
}

/** The X-Forwarded-For entries of a request's fields, every field in order. */
export function forwardedFor(headers: readonly (readonly [string, string])[] | undefined): string | undefined {
  const values = (headers ?? []).filter(([n]) => n.toLowerCase() === 'x-forwarded-for').flatMap(([, v]) => v.split(',').map((s) => s.trim()).filter(Boolean));
  return values.length > 0 ? values.join(', ') : undefined;
}

/** The outcome key of what an app saw. */
export function outcomeKey(view: { clientAddress: string | null; proxy?: { version: number; source: string } | undefined; headers?: readonly (readonly [string, string])[] | undefined }): string {
  const parts = [view.clientAddress ?? '(none)'];
  if (view.proxy) parts.push(`PROXY v${view.proxy.version} ${hostOf(view.proxy.source)}`);
  const xff = forwardedFor(view.headers);
  if (xff) parts.push(`XFF ${xff}`);
  return parts.join(' · ');
}
