// Exponential moving average as TensorBoard and W&B draw it: debiased, so the first points
// are not dragged towards zero, and gaps (non-finite values) passed through untouched.

/** `values` smoothed with weight `weight` (0: none, 0.99: very smooth); same length. */
export function ema(values: readonly number[], weight: number): number[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  if (w === 0) return values.slice();
  const out = new Array<number>(values.length);
  let last = 0;
  let seen = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * w + (1 - w) * v;
    seen += 1;
    out[i] = last / (1 - w ** seen);
  }
  return out;
}
