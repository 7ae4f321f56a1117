// Environment: Python, OS, hardware, command line and installed packages (dockyard/environment.json).
import type { UseQueryResult } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import type { ApiError } from "../../api/client";
import { ErrorMessage, Loading } from "../../components/ErrorMessage";
import { KeyValue } from "../../components/KeyValue";
import { formatBytes } from "../../format";
import { type Artifact, type EnvironmentRecord, type Run, useArtifactJson, useArtifactText } from "./api";
import { DownloadLink } from "./ArtifactPreview";
import { StepHint } from "./CodeTab";
import { parsePackage } from "./parse";

export const ENV_PATH = "dockyard/environment.json";
export const REQUIREMENTS_PATH = "dockyard/requirements.txt";

function Packages({ packages }: { packages: string[] }) {
  const [filter, setFilter] = useState("");
  const parsed = useMemo(() => packages.map(parsePackage), [packages]);
  const needle = filter.trim().toLowerCase();
  const shown = parsed.filter((p) => !needle || p.name.toLowerCase().includes(needle) || p.version.toLowerCase().includes(needle));
  return (
    <section className="panel" data-testid="env-packages">
      <div className="run-panel-head">
        <h2>Packages</h2>
        <span className="muted small">{shown.length === parsed.length ? parsed.length : `${shown.length} of ${parsed.length}`}</span>
        <span className="spacer" />
        <input className="run-filter" type="search" placeholder="Filter packages" value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="package-filter" />
      </div>
      {shown.length === 0 ? (
        <p className="muted">{parsed.length ? `No package matches “${filter}”.` : "No packages listed."}</p>
      ) : (
        <div className="run-packages">
          <table className="data">
            <thead>
              <tr>
                <th>package</th>
                <th>version</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((p) => (
                <tr key={`${p.name}==${p.version}`}>
                  <td className="mono">{p.name}</td>
                  <td className="mono">{p.version}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Requirements({ run, artifact }: { run: Run; artifact: Artifact }) {
  const [open, setOpen] = useState(false);
  const text = useArtifactText(run.id, open ? artifact : null, 1024 * 1024);
  return (
    <section className="panel" data-testid="env-requirements">
      <div className="run-panel-head">
        <h2>requirements.txt</h2>
        <span className="muted small">{formatBytes(artifact.size)}</span>
        <span className="spacer" />
        <button type="button" onClick={() => setOpen(!open)}>
          {open ? "Hide" : "Show"}
        </button>
        <DownloadLink runId={run.id} path={artifact.path}>requirements.txt</DownloadLink>
      </div>
      {open && (text.error ? <ErrorMessage error={text.error} /> : text.data ? <pre className="run-text">{text.data.text}</pre> : <Loading />)}
      {!open && (
        <p className="muted small">
          Recreate the environment with <code>pip install -r requirements.txt</code>.
        </p>
      )}
    </section>
  );
}

function Summary({ env }: { env: EnvironmentRecord }) {
  const gpus = env.gpus ?? [];
  const known = new Set(["python", "executable", "platform", "host", "cpu_count", "cpu", "memory_bytes", "gpus", "entry_point", "command", "cwd", "packages"]);
  const extra = Object.entries(env).filter(([k]) => !known.has(k));
  return (
    <div className="run-env-grid">
      <section className="panel" data-testid="env-summary">
        <h2>Runtime</h2>
        <KeyValue
          rows={[
            ["Python", env.python ?? "—"],
            ["interpreter", env.executable ?? "—"],
            ["platform", env.platform ?? "—"],
            ["host", env.host ?? "—"],
            ["working directory", env.cwd ?? "—"],
            ["entry point", env.entry_point ?? "—"],
            ["command line", env.command?.length ? <code key="cmd">{env.command.join(" ")}</code> : "—"],
            ...extra.map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)] as [string, string]),
          ]}
        />
      </section>
      <section className="panel" data-testid="env-hardware">
        <h2>Hardware</h2>
        <KeyValue
          rows={[
            ["CPU", env.cpu ?? "—"],
            ["cores", env.cpu_count ?? "—"],
            ["memory", env.memory_bytes ? formatBytes(env.memory_bytes) : "—"],
            ["GPUs", gpus.length ? String(gpus.length) : "none"],
          ]}
        />
        {gpus.length > 0 && (
          <table className="data run-gpus">
            <thead>
              <tr>
                <th>#</th>
                <th>GPU</th>
                <th className="num">memory</th>
                <th>driver</th>
              </tr>
            </thead>
            <tbody>
              {gpus.map((g, i) => (
                <tr key={i}>
                  <td>{i}</td>
                  <td>{g.name}</td>
                  <td className="num">{g.memory_mib ? `${g.memory_mib} MiB` : ""}</td>
                  <td>{g.driver}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

export function EnvironmentTab({ run, artifacts }: { run: Run; artifacts: UseQueryResult<Artifact[], ApiError> }) {
  const envFile = artifacts.data?.find((a) => a.path === ENV_PATH);
  const reqFile = artifacts.data?.find((a) => a.path === REQUIREMENTS_PATH);
  const env = useArtifactJson<EnvironmentRecord>(run.id, envFile);
  if (artifacts.error) return <ErrorMessage error={artifacts.error} what="artifacts" />;
  if (artifacts.isPending) return <Loading what="artifacts" />;
  if (!envFile) {
    const tags = Object.entries(run.tags).filter(([k]) => ["dockyard.python", "dockyard.host", "dockyard.gpus", "dockyard.entry_point", "dockyard.command"].includes(k));
    return (
      <div className="panel run-empty" data-testid="environment-empty">
        <h2>No environment recorded</h2>
        <p className="muted">
          Runs started with <code>dy.start_run</code> record their Python, packages, OS, CPU, memory, GPUs and command line
          (<code>dy.Capture(environment=True)</code>, the default).
        </p>
        <StepHint run={run} what="environment" tab="environment" has={(_, files) => files.some((f) => f.path === ENV_PATH)} />
        {tags.length > 0 && <KeyValue rows={tags.map(([k, v]) => [k.slice("dockyard.".length), v])} />}
        {reqFile && <Requirements run={run} artifact={reqFile} />}
      </div>
    );
  }
  return (
    <div data-testid="environment-tab">
      {env.error ? <ErrorMessage error={env.error} what={ENV_PATH} /> : !env.data ? <Loading what="the environment" /> : (
        <>
          <Summary env={env.data} />
          <Packages packages={env.data.packages ?? []} />
        </>
      )}
      {reqFile && <Requirements run={run} artifact={reqFile} />}
    </div>
  );
}
