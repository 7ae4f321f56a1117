import { describe, expect, it } from "vitest";
import { MAX_POINTS_CAP, chooseMaxPoints, formatSeconds, parseXMode, percentToRange, rangeFraction, xValues } from "./points";

describe("chooseMaxPoints", () => {
  it("asks for two points per pixel, width rounded up to 100 px", () => {
    expect(chooseMaxPoints(640)).toBe(1400);
    expect(chooseMaxPoints(700)).toBe(1400);
    expect(chooseMaxPoints(10)).toBe(200);
  });

  it("doubles per halving of the visible range (powers of two)", () => {
    expect(chooseMaxPoints(700, 0.5)).toBe(2800);
    expect(chooseMaxPoints(700, 0.3)).toBe(5600);
    expect(chooseMaxPoints(700, 0.26)).toBe(5600);
    expect(chooseMaxPoints(700, 0.25)).toBe(5600);
  });

  it("never asks for more than the cap or than the series has", () => {
    expect(chooseMaxPoints(700, 0.0001)).toBe(MAX_POINTS_CAP);
    expect(chooseMaxPoints(700, 0.1, 20_000)).toBe(20_000);
    expect(chooseMaxPoints(700, 1, 50)).toBe(50);
    expect(chooseMaxPoints(700, 1, 1)).toBe(3);
  });

  it("treats a nonsense fraction as the whole range", () => {
    expect(chooseMaxPoints(700, 0)).toBe(1400);
    expect(chooseMaxPoints(700, Number.NaN)).toBe(1400);
    expect(chooseMaxPoints(700, 3)).toBe(1400);
  });
});

describe("x axis", () => {
  const h = { steps: [0, 10, 20], timestamps: [5_000, 6_000, 8_000] };

  it("uses steps, times or seconds since the start", () => {
    expect(xValues(h, "step")).toEqual([0, 10, 20]);
    expect(xValues(h, "wall")).toEqual([5_000, 6_000, 8_000]);
    expect(xValues(h, "relative", 4_000)).toEqual([1, 2, 4]);
  });

  it("counts from the first point when the run started after it (or is unknown)", () => {
    expect(xValues(h, "relative", 7_000)).toEqual([0, 1, 3]);
    expect(xValues(h, "relative")).toEqual([0, 1, 3]);
    expect(xValues({ steps: [], timestamps: [] }, "relative")).toEqual([]);
  });

  it("parses the mode from the URL", () => {
    expect(parseXMode("wall")).toBe("wall");
    expect(parseXMode("nonsense")).toBe("step");
    expect(parseXMode(null, "relative")).toBe("relative");
  });

  it("formats seconds", () => {
    expect(formatSeconds(42)).toBe("42 s");
    expect(formatSeconds(90)).toBe("1 min 30 s");
    expect(formatSeconds(600)).toBe("10 min");
    expect(formatSeconds(3900)).toBe("1 h 05 min");
    expect(formatSeconds(3 * 86400 + 7200)).toBe("3 d 2 h");
  });

  it("maps zoom percentages to ranges and back to fractions", () => {
    expect(percentToRange([0, 200], 25, 75)).toEqual([50, 150]);
    expect(rangeFraction([0, 200], [50, 150])).toBe(0.5);
    expect(rangeFraction([0, 200], null)).toBe(1);
    expect(rangeFraction([5, 5], [5, 5])).toBe(1);
  });
});
