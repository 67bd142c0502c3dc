/**
 * Object names: the API server's rules for them, and the names controllers generate, made
 * deterministic (a hash of what the controller would have randomized) so loads are repeatable.
 *
 * @module
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Which rule a kind's names follow. */
export type NameRule = 'dns1123Label' | 'dns1123Subdomain' | 'dns1035Label';

/** Why `name` breaks `rule`, in the API server's words, or undefined. */
export function nameProblem(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case 'dns1123Label':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS1123_LABEL.test(name)
        ? undefined
        : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
    case 'dns1123Subdomain':
      if (name.length > 253) return 'must be no more than 253 characters';
      return DNS1123_SUBDOMAIN.test(name)
        ? undefined
        : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    case 'dns1035Label':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS1035_LABEL.test(name)
        ? undefined
        : "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
  }
}

/** Why `name` is not an IANA service name (container port names, named targetPorts), or undefined. */
export function portNameProblem(name: string): string | undefined {
  if (name.length > 15) return 'must be no more than 15 characters';
  if (!/^[-a-z0-9]+$/.test(name)) return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
  if (name.includes('--')) return "must not contain consecutive hyphens";
  if (!/[a-z]/.test(name)) return 'must contain at least one letter (a-z)';
  if (name.startsWith('-') || name.endsWith('-')) return 'must not begin or end with a hyphen';
  return undefined;
}

/** FNV-1a, 32 bits: the hash Kubernetes uses for pod-template-hash. */
export function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// The alphabet of Kubernetes' generated names: no vowels (no words), no look-alikes.
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** A 5-character suffix like `generateName` gives (`web-7c5d8`), derived from `seed`. */
export function nameSuffix(seed: string): string {
  let h = fnv32a(seed);
  let out = '';
  for (let i = 0; i < 5; i++) {
    out += ALPHANUMS[h % ALPHANUMS.length];
    h = Math.floor(h / ALPHANUMS.length) ^ fnv32a(`${seed}#${i}`);
    h >>>= 0;
  }
  return out;
}

/** pod-template-hash as the Deployment controller writes it: the hash's decimal digits, safely encoded. */
export function podTemplateHash(template: unknown): string {
  return String(fnv32a(JSON.stringify(template)))
    .split('')
    .map((d) => ALPHANUMS[d.charCodeAt(0) % ALPHANUMS.length])
    .join('');
}
