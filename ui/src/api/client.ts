// The UI's only way to the server: the public REST API under /api/v1.
import type { components } from "./schema";

export type Schemas = components["schemas"];

export const API_PREFIX = "/api/v1";
const TOKEN_KEY = "dockyard.token";
const MADE_HERE_KEY = "dockyard.token.signed-in-here";

/** An error the server answered with ({error: {code, message, details}}) or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** For an invalid search query: where in the query text the error is. */
  get position(): number | undefined {
    const p = this.details.position;
    return typeof p === "number" ? p : undefined;
  }
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];

/** "/a?x=1&y=2&y=3" from a path and query values (null/undefined/"" left out, arrays repeated). */
export function buildUrl(path: string, query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) for (const item of value) params.append(key, String(item));
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return `${API_PREFIX}${path}${qs ? `?${qs}` : ""}`;
}

/** A path segment with the characters URLs reserve escaped. */
export const seg = (value: string | number): string => encodeURIComponent(String(value));

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Keep `token` in this browser (null: forget it). `signedInHere`: the token was made by
 * signing in from this page, so signing out revokes it; a token pasted in (a CI token, say)
 * is only forgotten. */
export function setToken(token: string | null, signedInHere = false): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  if (token && signedInHere) localStorage.setItem(MADE_HERE_KEY, "1");
  else localStorage.removeItem(MADE_HERE_KEY);
}

/** The CSRF token of this browser's single sign-on session (its session cookie is HttpOnly:
 * pages never see it), or null without one. */
export function csrfToken(): string | null {
  if (typeof document === "undefined") return null;
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "dockyard_csrf" && value.length) return decodeURIComponent(value.join("="));
  }
  return null;
}

/** Whether this browser is signed in: with a token it keeps, or a single sign-on session. */
export function signedIn(): boolean {
  return Boolean(getToken() || csrfToken());
}

/** The headers that authenticate a request: the kept token, else the session's CSRF token
 * (the session cookie goes by itself; calls that change something need both). */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  if (token) return { Authorization: `Bearer ${token}`, ...extra };
  const csrf = csrfToken();
  return { ...(csrf ? { "X-CSRF-Token": csrf } : {}), ...extra };
}

const headers = authHeaders;

/** Sign out: the server revokes the session (or the token a password sign-in made here; a
 * token pasted in is only forgotten), and a single sign-on session ends at the identity
 * provider too (the browser goes there, and comes back). */
export async function signOut(): Promise<void> {
  let next: string | null = null;
  const revoke = getToken() ? localStorage.getItem(MADE_HERE_KEY) === "1" : Boolean(csrfToken());
  try {
    if (revoke) {
      const response = await fetch(`${API_PREFIX}/auth/logout`, { method: "POST", headers: authHeaders() });
      if (response.ok) next = ((await response.json()) as { logout_url?: string | null }).logout_url ?? null;
    }
  } catch {
    // the server is unreachable: forget the token here all the same
  }
  setToken(null);
  if (next) window.location.assign(next);
  else window.location.reload();
}

/** The ApiError for a failed response, whatever its body. */
export async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown = undefined;
  try {
    body = await response.json();
  } catch {
    // not JSON: fall through to the status text
  }
  const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })?.error;
  if (error?.message) {
    return new ApiError(response.status, error.code ?? "error", error.message, error.details ?? {});
  }
  return new ApiError(response.status, "http_error", `${response.status} ${response.statusText || "error"} from ${response.url}`);
}

async function send(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal });
  } catch (exc) {
    if ((exc as Error).name === "AbortError") throw exc;
    throw new ApiError(0, "unavailable", `the dockyard server could not be reached (${(exc as Error).message})`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function getJson<T>(path: string, query: Record<string, QueryValue> = {}, signal?: AbortSignal): Promise<T> {
  const response = await send(buildUrl(path, query), { headers: headers() }, signal);
  return (await response.json()) as T;
}

export async function sendJson<T>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, headers: headers({ "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await send(buildUrl(path), init, signal);
  return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
}

/** Raw bytes of a download (artifacts, blobs). */
export async function getBlob(path: string, query: Record<string, QueryValue> = {}, signal?: AbortSignal): Promise<Blob> {
  const response = await send(buildUrl(path, query), { headers: headers() }, signal);
  return await response.blob();
}

export async function getText(path: string, query: Record<string, QueryValue> = {}, signal?: AbortSignal): Promise<string> {
  const response = await send(buildUrl(path, query), { headers: headers() }, signal);
  return await response.text();
}
