// The audit log of the server: who did what, when, from where, and how it ended. A project's
// owners see its entries, the admin sees all (sign-ins and account changes included).
import { useState } from "react";
import { useSearchParams } from "react-router";
import type { Schemas } from "../api/client";
import { useGetKeep } from "../api/hooks";
import { Pending } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { formatTime } from "../format";

type AuditPage = Schemas["AuditPage"];
type AuditEvent = Schemas["AuditEvent"];

const FILTERS: [string, string][] = [
  ["project", "project"],
  ["actor", "who"],
  ["operation", "operation (models.set_alias, or models)"],
];
const OUTCOMES = ["", "ok", "denied", "failed"];

/** An ISO time (UTC) as a datetime-local input shows it (this browser's time), and back. */
function localInput(iso: string): string {
  const time = new Date(iso);
  if (!iso || Number.isNaN(time.getTime())) return "";
  return new Date(time.getTime() - time.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
function fromLocalInput(value: string): string {
  const time = new Date(value);
  return value && !Number.isNaN(time.getTime()) ? time.toISOString() : "";
}

function target(event: AuditEvent): string {
  return Object.entries(event.target)
    .filter(([key]) => key !== "project")
    .map(([key, value]) => `${key.replace(/^body\./, "")}=${Array.isArray(value) ? value.join(",") : String(value)}`)
    .join(" ");
}

export default function Audit() {
  const [params, setParams] = useSearchParams();
  const [cursors, setCursors] = useState<string[]>([]);
  const query = {
    project: params.get("project") ?? "",
    actor: params.get("actor") ?? "",
    operation: params.get("operation") ?? "",
    outcome: params.get("outcome") ?? "",
    since: params.get("since") ?? "",
    until: params.get("until") ?? "",
    limit: 100,
    cursor: cursors[cursors.length - 1] ?? "",
  };
  const page = useGetKeep<AuditPage>("/audit", query);
  const set = (key: string, value: string) => {
    setCursors([]);
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (value) next.set(key, value);
        else next.delete(key);
        return next;
      },
      { replace: true },
    );
  };
  const events = page.data?.items ?? [];
  return (
    <div>
      <PageHeader title="Audit log" />
      <div className="ds-toolbar" data-testid="audit-filters">
        {FILTERS.map(([key, label]) => (
          <input key={key} type="search" placeholder={label} aria-label={key} defaultValue={query[key as keyof typeof query] as string} onKeyDown={(e) => e.key === "Enter" && set(key, e.currentTarget.value.trim())} onBlur={(e) => set(key, e.currentTarget.value.trim())} />
        ))}
        <select value={query.outcome} onChange={(e) => set("outcome", e.target.value)} aria-label="outcome">
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {o || "any outcome"}
            </option>
          ))}
        </select>
        {(["since", "until"] as const).map((key) => (
          <label key={key} className="muted">
            {key === "since" ? "from" : "to"}{" "}
            <input type="datetime-local" aria-label={key} defaultValue={localInput(query[key])} onChange={(e) => set(key, fromLocalInput(e.currentTarget.value))} />
          </label>
        ))}
      </div>
      <Pending query={page} what="the audit log" />
      {page.data && events.length === 0 && (
        <p className="muted" data-testid="audit-empty">
          No entries you may read match. A project's owners read its entries; the admin reads all. An embedded session keeps no audit log.
        </p>
      )}
      {events.length > 0 && (
        <table className="data" data-testid="audit-table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Operation</th>
              <th>Project</th>
              <th>Target</th>
              <th>From</th>
              <th>Outcome</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id} data-testid="audit-row" data-outcome={e.outcome}>
                <td className="nowrap">{formatTime(e.at)}</td>
                <td>
                  {e.actor} <span className="muted small">{e.actor_kind}</span>
                </td>
                <td>
                  <code>{e.operation}</code>
                </td>
                <td>{e.project ?? ""}</td>
                <td className="small">{target(e)}</td>
                <td className="small">{e.address}</td>
                <td className={e.outcome === "ok" ? "" : "bad"}>{e.outcome === "ok" ? "ok" : `${e.outcome} (${e.status})`}</td>
                <td className="small muted">{e.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        {cursors.length > 0 && (
          <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            ← newer
          </button>
        )}
        {page.data?.next_cursor && (
          <button type="button" onClick={() => setCursors([...cursors, page.data?.next_cursor ?? ""])} data-testid="audit-older">
            older →
          </button>
        )}
      </div>
    </div>
  );
}
