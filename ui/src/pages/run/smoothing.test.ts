import { describe, expect, it } from "vitest";
import { ema } from "./smoothing";

describe("ema", () => {
  it("is the identity without smoothing", () => {
    expect(ema([1, 5, 2], 0)).toEqual([1, 5, 2]);
  });

  it("starts at the first value (debiased) and keeps a constant series constant", () => {
    const out = ema([3, 3, 3, 3], 0.9);
    for (const v of out) expect(v).toBeCloseTo(3, 10);
  });

  it("lags behind a step and converges to it", () => {
    const values = [...Array(10).fill(0), ...Array(200).fill(1)];
    const out = ema(values, 0.9);
    expect(out[10]).toBeGreaterThan(0);
    expect(out[10]).toBeLessThan(0.5);
    expect(out[209]).toBeCloseTo(1, 5);
  });

  it("damps noise", () => {
    const noisy = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 1 : -1));
    const out = ema(noisy, 0.95);
    expect(Math.abs(out[399])).toBeLessThan(0.1);
  });

  it("passes gaps through and does not let them poison later points", () => {
    const out = ema([1, Number.NaN, 1], 0.5);
    expect(out[0]).toBeCloseTo(1);
    expect(Number.isNaN(out[1])).toBe(true);
    expect(out[2]).toBeCloseTo(1);
  });

  it("clamps a weight of 1 so the curve still moves", () => {
    const out = ema([0, 10], 1);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it("handles an empty series", () => {
    expect(ema([], 0.6)).toEqual([]);
  });
});
