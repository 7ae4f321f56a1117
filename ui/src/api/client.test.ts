import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, buildUrl, errorOf, getJson } from "./client";

describe("buildUrl", () => {
  it("prefixes the API, repeats arrays and drops empty values", () => {
    expect(buildUrl("/runs/keys", { projects: ["a", "b"], experiments: [], q: "", x: null, n: 0 })).toBe(
      "/api/v1/runs/keys?projects=a&projects=b&n=0",
    );
  });
  it("escapes values", () => {
    expect(buildUrl("/x", { path: "a b&c" })).toBe("/api/v1/x?path=a+b%26c");
  });
});

describe("errors", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("reads the server's error body, position included", async () => {
    const body = { error: { code: "invalid_query", message: "unexpected token", details: { position: 7 } } };
    const error = await errorOf(new Response(JSON.stringify(body), { status: 422 }));
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.message, error.position]).toEqual([422, "invalid_query", "unexpected token", 7]);
  });

  it("says something readable for a body that is not JSON", async () => {
    const error = await errorOf(new Response("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    expect(error.message).toContain("502 Bad Gateway");
  });

  it("turns a network failure into an 'unavailable' ApiError", async () => {
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("Failed to fetch")));
    vi.stubGlobal("localStorage", { getItem: () => null });
    await expect(getJson("/health")).rejects.toMatchObject({ code: "unavailable", status: 0 });
  });
});
