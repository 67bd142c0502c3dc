/**
 * `fmt.Sprintf("%0.10f", 1.0/float64(n))`: the probability kube-proxy prints for the i-th of n
 * endpoints. Go rounds the exact binary value half-to-even; JavaScript's toFixed rounds ties up,
 * which differs when 1/n is a tie at the tenth digit (n = 2048, 4096, ...), so round here.
 *
 * @module
 */

/** `%0.10f` of 1/n, rounded as Go rounds it. */
export function probabilityText(n: number): string {
  const exact = (1 / n).toFixed(100); // the double's exact expansion, as far as toFixed goes
  const [whole, frac] = exact.split('.') as [string, string];
  const kept = frac.slice(0, 10);
  const rest = frac.slice(10);
  const restNonZero = /[1-9]/.test(rest);
  let roundUp = false;
  if (rest[0]! > '5') roundUp = true;
  else if (rest[0] === '5') roundUp = /[1-9]/.test(rest.slice(1)) || Number(kept[9]) % 2 === 1;
  if (!restNonZero || !roundUp) return `${whole}.${kept}`;
  const digits = (whole + kept).split('').map(Number);
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 9) {
      digits[i]!++;
      break;
    }
    digits[i] = 0;
    if (i === 0) digits.unshift(1);
  }
  const s = digits.join('');
  return `${s.slice(0, s.length - 10)}.${s.slice(s.length - 10)}`;
}

/** A cache of {@link probabilityText} (kube-proxy precomputes them too). */
export class Probabilities {
  private readonly texts: string[] = ['<bad value>'];
  get(n: number): string {
    while (this.texts.length <= n) this.texts.push(probabilityText(this.texts.length));
    return this.texts[n]!;
  }
}
