/**
 * Kubernetes resource quantities (`100m`, `1.5`, `64Mi`, `1e3`), parsed only
 * far enough to validate an override and to compare a request with its limit:
 * the API server rejects a pod whose request exceeds its limit, so the
 * injector must never produce one.
 */
const SUFFIX: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity's value in base units, or undefined when it is not a (non-negative) quantity. */
export function parseQuantity(raw: string): number | undefined {
  const m = QUANTITY.exec(raw);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] !== undefined) return n * 10 ** Number(m[2].slice(1));
  return n * SUFFIX[m[3] ?? '']!;
}
