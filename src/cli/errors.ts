/**
 * Errors a user can cause (bad input, bad flags) versus bugs. User errors print one clear line
 * and exit 1; nothing prints a stack trace for them.
 *
 * @module
 */
import { PatchError } from '../cluster/index.js';
import { TraceArgumentError } from '../trace/plan.js';
import { AppSpecError } from '../trace/app.js';
import { IngressConfigError } from '../trace/listeners.js';
import { IstioCaptureError } from '../sidecar/index.js';
import { readFileSync } from 'node:fs';
import { isClusterLoadError } from '../cluster/index.js';
import { AddressError } from '../net/index.js';
import { ConntrackSyntaxError, HostSpecError, IpsetSyntaxError, RulesetSyntaxError } from '../netfilter/index.js';

/** Exit codes: documented in the README. */
export const EXIT = { ok: 0, badInput: 1, undetermined: 2, internal: 3 } as const;

/** An error in what the user gave: flags, files, their contents. */
export class UserError extends Error {
  override readonly name = 'UserError';
}

/** True for errors that are the input's fault, not kubepath's. */
export function isUserError(e: unknown): e is Error {
  return (
    e instanceof UserError ||
    e instanceof RulesetSyntaxError ||
    e instanceof HostSpecError ||
    e instanceof IpsetSyntaxError ||
    e instanceof ConntrackSyntaxError ||
    e instanceof AddressError ||
    isClusterLoadError(e) ||
    e instanceof PatchError ||
    e instanceof TraceArgumentError ||
    e instanceof AppSpecError ||
    e instanceof IstioCaptureError ||
    e instanceof IngressConfigError
  );
}

/** Read a file, or stdin for `-`; a missing or unreadable file is a UserError naming it. */
export function readInput(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UserError(`cannot read ${what} "${path}": ${why}`);
  }
}
