// Pure logic of the serving pages: model servers grouped into deployments, request rates
// between heartbeats, traffic shares, the prediction log in short, and a prediction's
// place in its alias history. Unit-tested; no React here.
import type { Schemas } from "../../api/client";
import { formatNumber, parseTime } from "../../format";

export type Instance = Schemas["Instance"];
export type ServedModel = Schemas["ServedModelState"];
export type ServedVersion = Schemas["ServedVersion"];
export type Prediction = Schemas["Prediction"];
export type PredictionTrace = Schemas["PredictionTrace"];
export type CodeInfo = Schemas["CodeInfo"];
export type AliasMove = Schemas["AliasMove"];

/** A server counts as live this long after its last heartbeat (the service's LIVE_SECONDS). */
export const LIVE_MS = 60_000;

// --- servers and deployments --------------------------------------------------------------

/** live: heartbeats coming; stopped: shut down gracefully; lost: went silent without a stop
 * (killed, crashed or cut off), so its last predictions may be missing from the log. */
export type ServerStatus = "live" | "stopped" | "lost";

export function serverStatus(instance: Instance): ServerStatus {
  if (instance.stopped_at) return "stopped";
  return instance.live ? "live" : "lost";
}

/** One server's view of one model. */
export interface Replica {
  instance: Instance;
  model: ServedModel;
}

/** A model and every listed server that serves it. */
export interface Deployment {
  name: string;
  replicas: Replica[];
  live: number;
  frozen: boolean;
  requests: number;
  errors: number;
  rows: number;
}

/** The servers' models grouped by model: models with a live server first, then by name;
 * within a model, live servers first, then the latest heartbeat first. Totals count live
 * servers only when there are any (a stopped server's counts are history). */
export function deployments(instances: readonly Instance[]): Deployment[] {
  const byName = new Map<string, Replica[]>();
  for (const instance of instances) {
    for (const model of instance.state.models ?? []) {
      const list = byName.get(model.name) ?? [];
      list.push({ instance, model });
      byName.set(model.name, list);
    }
  }
  const heartbeat = (r: Replica) => parseTime(r.instance.heartbeat_at) ?? 0;
  const out: Deployment[] = [];
  for (const [name, replicas] of byName) {
    replicas.sort((a, b) => Number(b.instance.live) - Number(a.instance.live) || heartbeat(b) - heartbeat(a));
    const live = replicas.filter((r) => r.instance.live);
    const counted = live.length > 0 ? live : replicas;
    const sum = (key: "requests" | "errors" | "rows") => counted.reduce((total, r) => total + (r.model[key] ?? 0), 0);
    out.push({
      name,
      replicas,
      live: live.length,
      frozen: counted.some((r) => r.model.frozen),
      requests: sum("requests"),
      errors: sum("errors"),
      rows: sum("rows"),
    });
  }
  return out.sort((a, b) => Number(b.live > 0) - Number(a.live > 0) || a.name.localeCompare(b.name));
}

/** "2.5%" of requests that failed; "" with no request. */
export function errorShare(requests: number, errors: number): string {
  if (requests <= 0) return "";
  const share = (100 * errors) / requests;
  return `${share === 0 ? "0" : share < 0.1 ? "<0.1" : formatNumber(Number(share.toFixed(1)))}%`;
}

export interface TrafficShare {
  alias: string;
  weight: number;
  percent: number;
}

/** The traffic split in percent, largest first (weights need not sum to 100). */
export function trafficShares(traffic: Record<string, number> | undefined): TrafficShare[] {
  const entries = Object.entries(traffic ?? {}).filter(([, w]) => w > 0);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (total <= 0) return [];
  return entries
    .map(([alias, weight]) => ({ alias, weight, percent: (100 * weight) / total }))
    .sort((a, b) => b.weight - a.weight || a.alias.localeCompare(b.alias));
}

/** "90%", "33.3%". */
export const percent = (value: number): string => `${formatNumber(Number(value.toFixed(1)))}%`;

/** A version's state in words: "v2 serving", "loading", "v1 serving, the new version failed". */
export function describeVersion(v: ServedVersion): string {
  const at = v.version === null || v.version === undefined ? null : `v${v.version}`;
  if (v.state === "failed") return at ? `${at} still answers: the new version failed to load` : "failed to load";
  if (v.state === "loading") return at ? `${at} answers while the new version loads` : "loading";
  return at ? `${at} ${v.state}` : v.state;
}

// --- request rates between heartbeats -----------------------------------------------------

/** A model's counters at one heartbeat of one server. */
export interface Sample {
  at: number;
  requests: number;
  errors: number;
}

export type History = Record<string, Sample[]>;

export const replicaKey = (instanceId: string, model: string): string => `${instanceId}/${model}`;

/** `history` with the counters of each live server's latest heartbeat added (a heartbeat
 * already seen adds nothing), keeping the last `keep` samples of each server and model. */
export function observe(history: History, instances: readonly Instance[], keep = 4): History {
  const next: History = {};
  for (const instance of instances) {
    const at = parseTime(instance.heartbeat_at);
    if (at === null) continue;
    for (const model of instance.state.models ?? []) {
      const key = replicaKey(instance.id, model.name);
      const old = history[key] ?? [];
      const last = old[old.length - 1];
      const sample = { at, requests: model.requests ?? 0, errors: model.errors ?? 0 };
      if (last && sample.at <= last.at) next[key] = old;
      else if (last && sample.requests < last.requests) next[key] = [sample]; // counters restarted
      else next[key] = [...old, sample].slice(-keep);
    }
  }
  return next;
}

export interface Rate {
  requests: number;
  errors: number;
}

/** Requests and errors per second over the samples kept, or null before two heartbeats. */
export function rateOf(samples: readonly Sample[] | undefined): Rate | null {
  if (!samples || samples.length < 2) return null;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const seconds = (last.at - first.at) / 1000;
  if (seconds <= 0) return null;
  return { requests: (last.requests - first.requests) / seconds, errors: (last.errors - first.errors) / seconds };
}

/** "12.5/s", "0/s", "0.02/s". */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "";
  const value = perSecond >= 10 ? Math.round(perSecond) : Number(perSecond.toPrecision(2));
  return `${formatNumber(value)}/s`;
}

/** "1.2 ms", "35 ms", "1.4 s"; "" when unknown. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  if (ms < 10) return `${ms.toFixed(ms < 1 ? 2 : 1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

// --- the prediction log -------------------------------------------------------------------

export const RANGES = [
  { id: "1h", label: "last hour", ms: 3_600_000 },
  { id: "24h", label: "last 24 h", ms: 86_400_000 },
  { id: "7d", label: "last 7 days", ms: 7 * 86_400_000 },
] as const;

export type RangeId = (typeof RANGES)[number]["id"];

export function rangeOf(id: string | null): (typeof RANGES)[number] {
  return RANGES.find((r) => r.id === id) ?? RANGES[0];
}

/** An explicit time range from the URL (?since=&until=, ISO times, e.g. a monitoring
 * window's), or null when either is missing, unreadable or since is not before until. Like a
 * monitoring window it holds `since` and not `until`; the log's query includes both ends,
 * so the query's until is the last microsecond before it. */
export function explicitRange(since: string | null, until: string | null): { since: string; until: string; label: string } | null {
  const a = parseTime(since);
  const b = parseTime(until);
  if (a === null || b === null || a >= b) return null;
  const short = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
  const before = `${new Date(b - 1).toISOString().slice(0, 23)}999Z`;
  return { since: new Date(a).toISOString(), until: before, label: `window ${short(a)} – ${short(b)} UTC` };
}

/** The ISO time `range` before `now`. */
export function since(range: string | null, now: number): string {
  return new Date(now - rangeOf(range).ms).toISOString();
}

/** A value in one short line: numbers as people read them, strings as they are, lists and
 * objects as compact JSON; cut to `max` characters with an ellipsis. */
export function compactValue(value: unknown, max = 80): string {
  let text: string;
  if (value === null || value === undefined) text = "null";
  else if (typeof value === "number") text = formatNumber(value).replace(/,/g, "");
  else if (typeof value === "string") text = value;
  else if (typeof value === "boolean") text = String(value);
  else text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v));
  return text.length > max ? `${text.slice(0, Math.max(0, max - 1))}…` : text;
}

/** "amount=12.5 · quantity=2", cut to `max` characters with how many more were left out. */
export function compactInputs(inputs: Record<string, unknown> | null | undefined, max = 90): string {
  const entries = Object.entries(inputs ?? {});
  const parts: string[] = [];
  let length = 0;
  for (const [key, value] of entries) {
    const part = `${key}=${compactValue(value, 24)}`;
    if (parts.length > 0 && length + part.length + 3 > max) break;
    parts.push(part);
    length += part.length + 3;
  }
  const left = entries.length - parts.length;
  return parts.join(" · ") + (left > 0 ? ` · +${left} more` : "");
}

export interface LogSummary {
  count: number;
  versions: [number, number][];
  shadow: number;
  p50: number | null;
  p99: number | null;
}

/** What the predictions shown hold: how many, per version (newest version first), how many
 * were shadow answers, and latency percentiles (nearest rank). */
export function summarize(predictions: readonly Prediction[]): LogSummary {
  const versions = new Map<number, number>();
  for (const p of predictions) versions.set(p.version, (versions.get(p.version) ?? 0) + 1);
  const latencies = predictions.map((p) => p.latency_ms).sort((a, b) => a - b);
  const rank = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] : null);
  return {
    count: predictions.length,
    versions: [...versions.entries()].sort((a, b) => b[0] - a[0]),
    shadow: predictions.filter((p) => p.shadow).length,
    p50: rank(0.5),
    p99: rank(0.99),
  };
}

/** A prediction id found in what was pasted (an id, a trace URL, a line of `dockyard trace`
 * output), lowercased; null when there is none. */
export function parsePredictionId(text: string): string | null {
  const found = text.trim().match(/(?:^|[^0-9a-fA-F])([0-9a-fA-F]{32})(?![0-9a-fA-F])/);
  return found ? found[1].toLowerCase() : null;
}

// --- a prediction's trace -----------------------------------------------------------------

/** The run page where the code's diff is: its artifacts tab on the diff file. */
export function diffHref(code: CodeInfo): string | null {
  if (!code.diff_artifact || !code.run_id) return null;
  return `/runs/${encodeURIComponent(code.run_id)}?tab=artifacts&path=${encodeURIComponent(code.diff_artifact)}`;
}

/** The move that made `alias` point at `version` most recently before `at`: why the
 * prediction was answered by that version. Null when the history does not say. */
export function moveBefore(history: readonly AliasMove[], alias: string, version: number, at: string): AliasMove | null {
  const when = parseTime(at) ?? Number.POSITIVE_INFINITY;
  let best: AliasMove | null = null;
  let bestAt = Number.NEGATIVE_INFINITY;
  for (const move of history) {
    const t = parseTime(move.at);
    if (move.alias !== alias || t === null || t > when) continue;
    if (t >= bestAt) {
      best = move;
      bestAt = t;
    }
  }
  return best && best.to_version === version ? best : null;
}
