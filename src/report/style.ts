/**
 * Terminal styling: colour only when the output is a terminal (or FORCE_COLOR is set) and
 * NO_COLOR is not, so piped output and `--json` stay plain.
 *
 * @module
 */

/** A set of styling functions; all are identity when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

/** Make a style for a stream: colour when it is a TTY, unless NO_COLOR; FORCE_COLOR forces it. */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  const forced = env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0';
  const enabled = forced || (!!stream.isTTY && env['NO_COLOR'] === undefined);
  const id = (s: string) => s;
  return {
    enabled,
    bold: enabled ? wrap(1, 22) : id,
    dim: enabled ? wrap(2, 22) : id,
    red: enabled ? wrap(31, 39) : id,
    green: enabled ? wrap(32, 39) : id,
    yellow: enabled ? wrap(33, 39) : id,
    cyan: enabled ? wrap(36, 39) : id,
    magenta: enabled ? wrap(35, 39) : id,
  };
}

/** A style that never colours. */
export const plain: Style = styleFor({ isTTY: false }, {});

/** Visible width of a string (ANSI escapes do not count). */
export function visibleWidth(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** Render rows as an aligned table; the header row is bold. */
export function table(rows: readonly (readonly string[])[], style: Style, gap = 2): string {
  if (rows.length === 0) return '';
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell))));
  return rows
    .map((row, r) =>
      row
        .map((cell, i) => {
          const text = i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visibleWidth(cell) + gap);
          return r === 0 ? style.bold(text) : text;
        })
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

/** A probability as a percentage: 33.3%, 100%, 0.01%. */
export function percent(p: number): string {
  const v = p * 100;
  if (v === 100 || v === 0) return `${v}%`;
  return `${v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2)}%`;
}
