// Feature views in words: what each feature computes, how fresh the online values are, and
// the values a lookup form sends. Pure functions (unit-tested in logic.test.ts).
import type { Schemas } from "../../api/client";
import { formatAgo, formatNumber, formatTime } from "../../format";
import { columnKind } from "../dataset/logic";

export type FeatureViewInfo = Schemas["FeatureViewInfo"];
export type DefinitionVersion = Schemas["DefinitionVersion"];
export type TrainingSet = Schemas["TrainingSet"];
export type OnlineValues = Schemas["OnlineValues"];

export interface EntitySpec {
  name: string;
  keys: string[];
}

export interface FieldSpec {
  kind: "field";
  name: string;
  column: string;
}

export interface AggregateSpec {
  kind: "aggregate";
  name: string;
  column: string;
  fn: string;
  window: string | null;
  available_at: string | null;
}

export interface OnDemandSpec {
  kind: "on_demand";
  name: string;
  inputs: string[];
  function: string;
  source_sha256: string;
}

/** A feature as the server stores it; `unknown` for a kind this UI does not know yet. */
export type FeatureSpec = FieldSpec | AggregateSpec | OnDemandSpec | { kind: "unknown"; name: string; raw: Record<string, unknown> };

/** A view's canonical definition (the `definition` of FeatureViewInfo and DefinitionVersion). */
export interface ViewDefinition {
  name: string;
  entities: EntitySpec[];
  source: string;
  timestamp: string;
  features: FeatureSpec[];
  ttl: string | null;
  bucket: string | null;
  lateness: string | null;
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");
const optional = (value: unknown): string | null => (typeof value === "string" && value !== "" ? value : null);
const texts = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

function asFeature(raw: unknown): FeatureSpec {
  const f = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const name = text(f.name);
  if (f.kind === "field") return { kind: "field", name, column: text(f.column) };
  if (f.kind === "aggregate")
    return { kind: "aggregate", name, column: text(f.column), fn: text(f.fn), window: optional(f.window), available_at: optional(f.available_at) };
  if (f.kind === "on_demand") return { kind: "on_demand", name, inputs: texts(f.inputs), function: text(f.function), source_sha256: text(f.source_sha256) };
  return { kind: "unknown", name, raw: f };
}

/** The typed form of a stored view definition (missing parts become empty, never a crash). */
export function asViewDefinition(raw: Record<string, unknown>): ViewDefinition {
  const entities = Array.isArray(raw.entities) ? raw.entities : [];
  return {
    name: text(raw.name),
    entities: entities.map((e) => {
      const entity = (e && typeof e === "object" ? e : {}) as Record<string, unknown>;
      return { name: text(entity.name), keys: texts(entity.keys) };
    }),
    source: text(raw.source),
    timestamp: text(raw.timestamp),
    features: (Array.isArray(raw.features) ? raw.features : []).map(asFeature),
    ttl: optional(raw.ttl),
    bucket: optional(raw.bucket),
    lateness: optional(raw.lateness),
  };
}

const FUNCTIONS: Record<string, string> = {
  count: "count of",
  sum: "sum of",
  mean: "mean of",
  min: "minimum of",
  max: "maximum of",
  last: "latest value of",
  distinct_count: "number of distinct values of",
};

/** "aggregate", "field", "on-demand". */
export function featureKind(feature: FeatureSpec): string {
  if (feature.kind === "on_demand") return "on-demand";
  return feature.kind;
}

/** What a feature computes, in words: "sum of amount over 24h, once label_available_at has
 * passed", "latest value of amount, null once older than 30d", "computed by its owner's
 * function m:f from amount, view:amount_mean_7d". `ttl` is the view's. */
export function describeFeature(feature: FeatureSpec, ttl: string | null = null): string {
  const expires = ttl ? `, null once older than ${ttl}` : "";
  switch (feature.kind) {
    case "field":
      return `latest value of ${feature.column}${expires}`;
    case "aggregate": {
      const what = `${FUNCTIONS[feature.fn] ?? `${feature.fn} of`} ${feature.column}`;
      const span = feature.window ? ` over ${feature.window}` : " over all history";
      const gate = feature.available_at ? `, once ${feature.available_at} has passed` : "";
      return `${what}${span}${gate}${feature.fn === "last" ? expires : ""}`;
    }
    case "on_demand": {
      const by = feature.function ? `its owner's function ${feature.function}` : "its owner's function";
      return `computed by ${by} from ${feature.inputs.length ? feature.inputs.join(", ") : "no inputs"}`;
    }
    default:
      return `a ${String(feature.raw.kind ?? "feature")} this page does not know how to describe`;
  }
}

/** What the values of a feature are (as the server decides when a definition changes). */
export function featureValues(feature: FeatureSpec): string {
  if (feature.kind === "on_demand") return `what ${feature.function || "its function"} returns`;
  if (feature.kind === "aggregate" && (feature.fn === "count" || feature.fn === "distinct_count")) return "integer";
  if (feature.kind === "aggregate" && (feature.fn === "sum" || feature.fn === "mean")) return "float";
  if (feature.kind === "field" || feature.kind === "aggregate") return `as column ${feature.column}`;
  return "";
}

/** The online freshness of a view in a few words: "newest event 5 min ago · 1,203 events
 * online", or "not materialized". */
export function freshness(info: Pick<FeatureViewInfo, "online" | "materialization">, now: number = Date.now()): string {
  const online = info.online;
  if (!online) return info.materialization ? "materialized, nothing online" : "not materialized";
  const events = `${formatNumber(online.events)} event${online.events === 1 ? "" : "s"} online`;
  if (!online.newest_event_at) return events;
  return `newest event ${formatAgo(online.newest_event_at, now)} (${formatTime(online.newest_event_at)}) · ${events}`;
}

/** "project/name@3" as its parts (null when the text is not such a reference). */
export function parseDatasetRef(ref: string): { project: string; dataset: string; version: string } | null {
  const match = /^([^/@\s]+)\/([^/@\s]+)@(\d+)$/.exec(ref.trim());
  return match ? { project: match[1], dataset: match[2], version: match[3] } : null;
}

/** The href of a dataset version's page. */
export const datasetVersionHref = (project: string, dataset: string, version: number | string): string =>
  `/datasets/${encodeURIComponent(project)}/${encodeURIComponent(dataset)}?version=${encodeURIComponent(String(version))}`;

/** The values typed in a lookup field: split on commas and line breaks, trimmed, empties
 * dropped; numbers when the key column is numeric (a value that is not a number stays text,
 * so the server says what is wrong with it). */
export function parseKeyValues(input: string, type?: string): (string | number)[] {
  const parts = input
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (!type || columnKind(type) !== "numeric") return parts;
  return parts.map((part) => (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(part) ? Number(part) : part));
}

/** One lookup result as rows: one per entity, the key columns first then the features. */
export function lookupRows(values: OnlineValues): { columns: string[]; rows: unknown[][] } {
  const columns = Object.keys(values.columns);
  const count = Math.max(0, ...columns.map((c) => values.columns[c]?.length ?? 0));
  const rows = Array.from({ length: count }, (_, i) => columns.map((c) => values.columns[c]?.[i] ?? null));
  return { columns, rows };
}

/** A feature value as text ("null" for none). */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return String(value);
}
