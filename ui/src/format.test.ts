import { describe, expect, it } from "vitest";
import { elapsed, formatAgo, formatBytes, formatDuration, formatNumber, formatTime, parseTime } from "./format";

describe("format", () => {
  it("numbers", () => {
    expect(formatNumber(0.1 + 0.2)).toBe("0.3");
    expect(formatNumber(1234567)).toBe("1,234,567");
    expect(formatNumber(0.000012345)).toBe("1.234e-5");
    expect(formatNumber(null)).toBe("");
    expect(formatNumber(Number.NaN)).toBe("NaN");
  });
  it("durations", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_345)).toBe("12.3 s");
    expect(formatDuration(245_000)).toBe("4 min 05 s");
    expect(formatDuration(3 * 86400_000 + 4 * 3600_000)).toBe("3 d 4 h");
  });
  it("bytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.50 KiB");
    expect(formatBytes(5 * 2 ** 30)).toBe("5.00 GiB");
  });
  it("times from the API are UTC, with or without a zone", () => {
    expect(parseTime("2026-01-02T03:04:05")).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseTime("2026-01-02T03:04:05+01:00")).toBe(Date.UTC(2026, 0, 2, 2, 4, 5));
    expect(formatTime("2026-01-02T03:04:05.123456")).toBe("2026-01-02 03:04:05");
    expect(parseTime("garbage")).toBeNull();
  });
  it("relative times and elapsed", () => {
    const now = Date.UTC(2026, 0, 2, 12);
    expect(formatAgo(now - 10_000, now)).toBe("just now");
    expect(formatAgo(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(elapsed("2026-01-02T11:00:00", null, now)).toBe(3600_000);
    expect(elapsed("2026-01-02T11:00:00", "2026-01-02T11:00:30")).toBe(30_000);
  });
});
