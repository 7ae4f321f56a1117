// The preview pane of the Artifacts tab: text, JSON, images, tables, HTML, diffs, models.
import { useQuery } from "@tanstack/react-query";
import { type ReactNode, useEffect, useMemo, useState } from "react";
import type { ApiError } from "../../api/client";
import { getBlob, getToken, seg } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import { formatBytes, formatNumber } from "../../format";
import { type Run, type TablePreview, contentUrl, decodeText, fetchHead, getTable, useArtifactJson, useArtifactText } from "./api";
import { type ArtifactFile, type TreeNode, extension, previewKind } from "./artifacts";
import { parseDiff } from "./diff";
import { DiffView } from "./DiffView";
import { parseDelimited } from "./parse";

export const TEXT_LIMIT = 200 * 1024;
const IMAGE_LIMIT = 25 * 1024 * 1024;
const HTML_LIMIT = 5 * 1024 * 1024;
const TABLE_ROWS = 100;

type Schemas = import("../../api/client").Schemas;

/** A plain link lets the browser stream the file; a server that needs a token gets it in a
 * header, which a link cannot send, so then the file is fetched and handed over as a blob. */
export function DownloadLink({ runId, path, children = "Download" }: { runId: string; path: string; children?: ReactNode }) {
  const name = path.split("/").pop();
  const [failed, setFailed] = useState<unknown>(null);
  if (!getToken()) {
    return (
      <a className="button-link" href={contentUrl(runId, path)} download={name} data-testid="download">
        ⤓ {children}
      </a>
    );
  }
  const save = async () => {
    try {
      const url = URL.createObjectURL(await getBlob(`/runs/${seg(runId)}/artifacts/content`, { path }));
      const a = document.createElement("a");
      a.href = url;
      a.download = name ?? "artifact";
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      setFailed(error);
    }
  };
  return (
    <>
      <button className="button-link" onClick={save} data-testid="download">
        ⤓ {children}
      </button>
      {failed !== null && <ErrorMessage error={failed} what={`downloading ${path}`} />}
    </>
  );
}

function Truncated({ runId, artifact, shown }: { runId: string; artifact: ArtifactFile; shown: number }) {
  return (
    <div className="run-truncated" data-testid="truncated">
      Showing the first {formatBytes(shown)} of {formatBytes(artifact.size)}. <DownloadLink runId={runId} path={artifact.path}>Download the whole file</DownloadLink>
    </div>
  );
}

function TextPreview({ run, artifact }: { run: Run; artifact: ArtifactFile }) {
  const text = useArtifactText(run.id, artifact, TEXT_LIMIT);
  if (text.error) return <ErrorMessage error={text.error} what={artifact.path} />;
  if (!text.data) return <Loading what="the file" />;
  return (
    <>
      {text.data.truncated && <Truncated runId={run.id} artifact={artifact} shown={TEXT_LIMIT} />}
      {text.data.text === "" ? <p className="muted">The file is empty.</p> : <pre className="run-text" data-testid="preview-text">{text.data.text}</pre>}
    </>
  );
}

const JSON_TOKEN = /("(?:\\u[a-fA-F0-9]{4}|\\[^u]|[^\\"])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

/** Pretty JSON with keys, strings, numbers and literals coloured. */
export function JsonView({ value }: { value: unknown }) {
  const parts = useMemo(() => {
    const text = JSON.stringify(value, null, 2) ?? "";
    const out: ReactNode[] = [];
    let last = 0;
    let i = 0;
    for (const m of text.matchAll(JSON_TOKEN)) {
      const at = m.index ?? 0;
      if (at > last) out.push(text.slice(last, at));
      const cls = m[1] ? (m[2] ? "json-key" : "json-string") : m[3] ? "json-literal" : "json-number";
      out.push(
        <span key={i++} className={cls}>
          {m[1] ?? m[0]}
        </span>,
      );
      if (m[2]) out.push(m[2]);
      last = at + m[0].length;
    }
    out.push(text.slice(last));
    return out;
  }, [value]);
  return (
    <pre className="run-text run-json" data-testid="preview-json">
      {parts}
    </pre>
  );
}

function JsonPreview({ run, artifact }: { run: Run; artifact: ArtifactFile }) {
  const text = useArtifactText(run.id, artifact, 5 * 1024 * 1024);
  const parsed = useMemo(() => {
    if (!text.data || text.data.truncated) return undefined;
    try {
      return { value: JSON.parse(text.data.text) as unknown };
    } catch {
      return null;
    }
  }, [text.data]);
  if (text.error) return <ErrorMessage error={text.error} what={artifact.path} />;
  if (!text.data) return <Loading what="the file" />;
  if (parsed) return <JsonView value={parsed.value} />;
  return (
    <>
      <div className="run-truncated">{text.data.truncated ? "Too large to pretty-print; the beginning of the file:" : "Not valid JSON; shown as text:"}</div>
      <pre className="run-text">{text.data.text.slice(0, TEXT_LIMIT)}</pre>
    </>
  );
}

function ImagePreview({ run, artifact }: { run: Run; artifact: ArtifactFile }) {
  const blob = useQuery<Blob, ApiError>({
    queryKey: ["artifact-blob", run.id, artifact.path, artifact.digest],
    queryFn: ({ signal }) => getBlob(`/runs/${seg(run.id)}/artifacts/content`, { path: artifact.path }, signal),
    enabled: artifact.size <= IMAGE_LIMIT,
    staleTime: Infinity,
  });
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!blob.data) return undefined;
    const type = extension(artifact.path) === "svg" ? "image/svg+xml" : blob.data.type;
    const made = URL.createObjectURL(type === blob.data.type ? blob.data : new Blob([blob.data], { type }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [blob.data, artifact.path]);
  if (artifact.size > IMAGE_LIMIT) return <BinaryPreview run={run} artifact={artifact} note="This image is too large to preview here." />;
  if (blob.error) return <ErrorMessage error={blob.error} what={artifact.path} />;
  if (!url) return <Loading what="the image" />;
  return (
    <div className="run-image-wrap">
      <img className="preview run-image" src={url} alt={artifact.path} data-testid="preview-image" />
    </div>
  );
}

/** The server predates GET /runs/{id}/artifacts/table (it answers "no API route ..."). */
function missingEndpoint(error: ApiError): boolean {
  return (error.status === 404 && (error.code === "http_error" || /^no API route/.test(error.message))) || error.status === 405;
}

/** Rows of a table artifact: the API's TablePreview, or (CSV/TSV, older servers) parsed here. */
function useTable(run: Run, artifact: ArtifactFile) {
  return useQuery<TablePreview & { source: "server" | "browser" }, ApiError>({
    queryKey: ["artifact-table", run.id, artifact.path, artifact.digest, TABLE_ROWS],
    staleTime: Infinity,
    retry: false,
    queryFn: async ({ signal }) => {
      try {
        return { ...(await getTable(run.id, artifact.path, TABLE_ROWS, signal)), source: "server" };
      } catch (exc) {
        const api = exc as ApiError;
        const ext = extension(artifact.path);
        if (!missingEndpoint(api) || (ext !== "csv" && ext !== "tsv")) throw exc;
        const head = await fetchHead(run.id, artifact.path, TEXT_LIMIT, signal);
        const parsed = parseDelimited(decodeText(head.bytes), ext === "tsv" ? "\t" : ",", TABLE_ROWS, head.truncated);
        return {
          path: artifact.path,
          columns: parsed.header.map((name) => ({ name, type: "" })),
          rows: parsed.rows,
          total_rows: parsed.more ? null : parsed.rows.length,
          truncated: parsed.more,
          source: "browser",
        };
      }
    },
  });
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  // data as stored: no thousands separators (ids), floats without float noise
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(10)));
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const NUMERIC = /^(u?int|float|halffloat|double|decimal)/i;

export function TableView({ table }: { table: TablePreview }) {
  const numeric = table.columns.map((c) => NUMERIC.test(c.type));
  return (
    <div className="run-table-scroll" data-testid="preview-table">
      <table className="data run-preview-table">
        <thead>
          <tr>
            <th className="run-rowno">#</th>
            {table.columns.map((c, i) => (
              <th key={i} className={numeric[i] ? "num" : undefined}>
                <div>{c.name}</div>
                {c.type && <div className="run-col-type">{c.type}</div>}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {table.rows.map((row, r) => (
            <tr key={r}>
              <td className="run-rowno">{r + 1}</td>
              {table.columns.map((_, i) => (
                <td key={i} className={numeric[i] || typeof row[i] === "number" ? "num" : undefined}>
                  {row[i] === null || row[i] === undefined ? <span className="run-null">null</span> : cell(row[i])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TablePreviewPane({ run, artifact, compact = false }: { run: Run; artifact: ArtifactFile; compact?: boolean }) {
  const table = useTable(run, artifact);
  if (table.error) {
    if (missingEndpoint(table.error) && compact) {
      return (
        <div className="run-inline-note">
          This server cannot preview tables yet. <DownloadLink runId={run.id} path={artifact.path}>{artifact.path.split("/").pop()}</DownloadLink>
        </div>
      );
    }
    if (missingEndpoint(table.error)) {
      return <BinaryPreview run={run} artifact={artifact} note="This server cannot preview tables yet (it has no /artifacts/table endpoint); download the file to look at it." />;
    }
    return (
      <>
        <ErrorMessage error={table.error} what={`preview of ${artifact.path}`} />
        <DownloadLink runId={run.id} path={artifact.path} />
      </>
    );
  }
  if (!table.data) return <Loading what="the table" />;
  const t = table.data;
  return (
    <>
      <div className="run-table-meta muted small" data-testid="table-meta">
        {t.columns.length} columns ·{" "}
        {t.total_rows !== null && t.total_rows !== undefined
          ? `${formatNumber(t.total_rows)} rows${t.truncated || t.total_rows > t.rows.length ? `, showing the first ${formatNumber(t.rows.length)}` : ""}`
          : `showing the first ${formatNumber(t.rows.length)} rows`}
        {t.source === "browser" && " · read in the browser"}
      </div>
      {t.columns.length === 0 ? <p className="muted">The table is empty.</p> : <TableView table={t} />}
    </>
  );
}

function HtmlPreview({ run, artifact }: { run: Run; artifact: ArtifactFile }) {
  const text = useArtifactText(run.id, artifact, HTML_LIMIT);
  if (artifact.size > HTML_LIMIT) return <BinaryPreview run={run} artifact={artifact} note="This page is too large to preview here." />;
  if (text.error) return <ErrorMessage error={text.error} what={artifact.path} />;
  if (!text.data) return <Loading what="the page" />;
  return (
    <>
      <div className="run-truncated muted small">Rendered in a sandbox: scripts, forms and links in it are disabled.</div>
      <iframe className="preview" sandbox="" srcDoc={text.data.text} title={artifact.path} data-testid="preview-html" />
    </>
  );
}

function DiffPreview({ run, artifact }: { run: Run; artifact: ArtifactFile }) {
  const text = useArtifactText(run.id, artifact, 5 * 1024 * 1024);
  const diff = useMemo(() => (text.data ? parseDiff(text.data.text) : null), [text.data]);
  if (text.error) return <ErrorMessage error={text.error} what={artifact.path} />;
  if (!diff || !text.data) return <Loading what="the diff" />;
  if (diff.files.length === 0 && diff.untracked.length === 0) return <pre className="run-text">{text.data.text.slice(0, TEXT_LIMIT)}</pre>;
  return (
    <>
      {text.data.truncated && <Truncated runId={run.id} artifact={artifact} shown={5 * 1024 * 1024} />}
      <DiffView diff={diff} />
    </>
  );
}

function BinaryPreview({ run, artifact, note }: { run: Run; artifact: ArtifactFile; note?: string }) {
  return (
    <div className="run-binary" data-testid="preview-binary">
      <div className="run-binary-icon">⬚</div>
      <p>{note ?? "No preview for this kind of file."}</p>
      <p className="muted small">
        {formatBytes(artifact.size)} · {artifact.media_type}
      </p>
      <DownloadLink runId={run.id} path={artifact.path} />
    </div>
  );
}

export function ArtifactPreview({ run, artifact }: { run: Run; artifact: ArtifactFile }) {
  const kind = previewKind(artifact.path, artifact.media_type);
  return (
    <div data-testid={`preview-${kind}-pane`}>
      <div className="run-preview-head">
        <div className="run-preview-title">
          <span className="mono run-preview-path">{artifact.path}</span>
          <span className="muted small">
            {formatBytes(artifact.size)} · {artifact.media_type} · <span title={artifact.digest}>sha256:{artifact.digest.slice(0, 12)}</span>
          </span>
        </div>
        <DownloadLink runId={run.id} path={artifact.path} />
      </div>
      <div className="run-preview-body">
        {kind === "text" && <TextPreview run={run} artifact={artifact} />}
        {kind === "json" && <JsonPreview run={run} artifact={artifact} />}
        {kind === "image" && <ImagePreview run={run} artifact={artifact} />}
        {kind === "table" && <TablePreviewPane run={run} artifact={artifact} />}
        {kind === "html" && <HtmlPreview run={run} artifact={artifact} />}
        {kind === "diff" && <DiffPreview run={run} artifact={artifact} />}
        {kind === "binary" && <BinaryPreview run={run} artifact={artifact} />}
      </div>
    </div>
  );
}

type Manifest = Schemas["ModelManifest"];

function ModelSummary({ run, node }: { run: Run; node: TreeNode }) {
  const manifestFile = node.children.find((c) => c.name === "model.json")?.file;
  const manifest = useArtifactJson<Manifest>(run.id, manifestFile);
  const uri = `runs:/${run.id}/${node.path.replace(/\/$/, "")}`;
  const example = manifest.data?.input_example ? node.children.find((c) => c.name === manifest.data?.input_example)?.file : undefined;
  if (manifest.error) return <ErrorMessage error={manifest.error} what="model.json" />;
  if (!manifest.data) return <Loading what="the model manifest" />;
  const m = manifest.data;
  const sig = m.signature;
  return (
    <div className="run-model" data-testid="model-summary">
      <div className="run-model-grid">
        <div>
          <h3>Model</h3>
          <KeyValue
            rows={[
              ["flavor", m.flavor],
              ["framework", `${m.framework || m.flavor} ${m.framework_version}`.trim()],
              ["python", m.python_version],
              ["predict_proba", m.predict_proba ? "yes" : "no"],
              ["needs trust", m.needs_trust ? "yes (pickle: load with trusted=True)" : "no"],
              ["load with", <code key="uri">dy.load_model("{uri}")</code>],
            ]}
          />
          {m.requirements && m.requirements.length > 0 && (
            <>
              <h3>Requirements</h3>
              <div className="run-tags">
                {m.requirements.map((r) => (
                  <span className="run-tag" key={r}>
                    <span className="run-tag-key">{r}</span>
                  </span>
                ))}
              </div>
            </>
          )}
        </div>
        <div>
          <h3>Signature</h3>
          {sig ? (
            <table className="data">
              <thead>
                <tr>
                  <th></th>
                  <th>column</th>
                  <th>type</th>
                  <th>nullable</th>
                </tr>
              </thead>
              <tbody>
                {[...sig.inputs.map((c) => ["input", c] as const), ...(sig.outputs ?? []).map((c) => ["output", c] as const)].map(([dir, c], i) => (
                  <tr key={i}>
                    <td className="muted small">{dir}</td>
                    <td className="mono">{c.name}</td>
                    <td className="mono">{c.type}</td>
                    <td className="muted">{c.nullable ? "yes" : "no"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No signature (log the model with an input_example to infer one).</p>
          )}
        </div>
      </div>
      {example && (
        <>
          <h3>Input example</h3>
          <TablePreviewPane run={run} artifact={example} compact />
        </>
      )}
    </div>
  );
}

export function FolderPreview({ run, node, onSelect }: { run: Run; node: TreeNode; onSelect: (path: string) => void }) {
  const title = node.path === "" ? "All artifacts" : node.path;
  return (
    <div data-testid={node.model ? "preview-model-pane" : "preview-folder-pane"}>
      <div className="run-preview-head">
        <div className="run-preview-title">
          <span className="mono run-preview-path">
            {title}
            {node.model && <span className="run-badge model">model</span>}
          </span>
          <span className="muted small">
            {node.files} {node.files === 1 ? "file" : "files"} · {formatBytes(node.size)}
          </span>
        </div>
      </div>
      <div className="run-preview-body">
        {node.model && <ModelSummary run={run} node={node} />}
        {node.model && <h3>Files</h3>}
        <table className="data run-folder-table">
          <thead>
            <tr>
              <th>name</th>
              <th>type</th>
              <th className="num">size</th>
            </tr>
          </thead>
          <tbody>
            {node.children.map((c) => (
              <tr key={c.path} className="clickable" onClick={() => onSelect(c.path)}>
                <td className="mono">
                  {c.kind === "folder" ? "▸ " : ""}
                  {c.name}
                  {c.model && <span className="run-badge model">model</span>}
                </td>
                <td className="muted">{c.kind === "folder" ? `folder · ${c.files} files` : (c.file?.media_type ?? "")}</td>
                <td className="num">{formatBytes(c.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {node.path === "" && <p className="muted small run-hint">Select a file to preview it: text and logs, JSON, images, tables (Parquet, CSV, TSV), HTML reports and diffs.</p>}
      </div>
    </div>
  );
}
