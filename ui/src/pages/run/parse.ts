// Small parsers for what the run page shows: CSV fallbacks, package lists, log text, lineage labels.

/**
 * Rows of a CSV/TSV text (RFC 4180 quoting), at most `limit` data rows after the header.
 * A last line cut off by a truncated download is dropped.
 */
export function parseDelimited(text: string, delimiter = ",", limit = 100, truncated = false): { header: string[]; rows: string[][]; more: boolean } {
  const records: string[][] = [];
  let field = "";
  let record: string[] = [];
  let quoted = false;
  let i = 0;
  const wanted = limit + 1;
  let complete = true;
  while (i < text.length && records.length <= wanted) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === delimiter) {
      record.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else field += ch;
    i += 1;
  }
  if (i >= text.length && (field !== "" || record.length > 0)) {
    if (truncated) complete = false;
    else {
      record.push(field);
      records.push(record);
    }
  }
  const header = records[0] ?? [];
  const rows = records.slice(1, 1 + limit);
  const more = records.length > 1 + limit || !complete || i < text.length;
  return { header, rows, more };
}

export interface Package {
  name: string;
  version: string;
}

/** "name==1.2" (or a bare name) into its name and version, for the environment tab. */
export function parsePackage(line: string): Package {
  const spec = line.trim();
  const m = /^([^=<>!~ ;@]+)\s*(?:(?:===?|@)\s*(.+))?$/.exec(spec);
  if (!m) return { name: spec, version: "" };
  return { name: m[1], version: (m[2] ?? "").trim() };
}

/** Terminal colour and cursor codes removed (progress bars leave many in output logs). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[()][A-Za-z0-9]|\u001b[=>]/g, "");
}

/** A log as the terminal showed it: carriage-return redraws keep only their last state. */
export function terminalText(text: string): string {
  return stripAnsi(text)
    .split("\n")
    .map((line) => {
      const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
      const cut = trimmed.lastIndexOf("\r");
      return cut >= 0 ? trimmed.slice(cut + 1) : trimmed;
    })
    .join("\n");
}

export type LineageRef =
  | { kind: "dataset"; project: string; name: string; version: number | null; href: string }
  | { kind: "model"; name: string; version: number | null; href: string }
  | { kind: "other"; href: null };

/** Where a run's input or output (kind + label from /runs/{id}/io) lives in the UI. */
export function lineageRef(kind: string, label: string): LineageRef {
  if (kind === "dataset_version") {
    const m = /^([^/]+)\/(.+?)(?:@(\d+))?$/.exec(label);
    if (m) {
      const version = m[3] ? Number(m[3]) : null;
      const href = `/datasets/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}${version !== null ? `?version=${version}` : ""}`;
      return { kind: "dataset", project: m[1], name: m[2], version, href };
    }
  }
  if (kind === "model_version") {
    const m = /^(.+?)(?:\/v(\d+))?$/.exec(label);
    if (m) {
      const version = m[2] ? Number(m[2]) : null;
      const href = `/models/${encodeURIComponent(m[1])}${version !== null ? `?version=${version}` : ""}`;
      return { kind: "model", name: m[1], version, href };
    }
  }
  return { kind: "other", href: null };
}
