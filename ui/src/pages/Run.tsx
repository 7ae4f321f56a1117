// One run: what it was given, what it measured, what it wrote, where it came from.
import { Link, useParams } from "react-router";
import { ErrorMessage, Loading } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { type Tab, Tabs } from "../components/Tabs";
import { useArtifacts, useRun } from "./run/api";
import { ArtifactsTab } from "./run/ArtifactsTab";
import { CodeTab } from "./run/CodeTab";
import { EnvironmentTab } from "./run/EnvironmentTab";
import { RunHeader } from "./run/Header";
import { LineageTab } from "./run/LineageTab";
import { LogsTab } from "./run/LogsTab";
import { MetricsTab, SystemTab, isSystemMetric } from "./run/MetricsTab";
import { OverviewTab } from "./run/OverviewTab";
import "./run/run.css";

export default function RunPage() {
  const { runId = "" } = useParams();
  const run = useRun(runId);
  const running = run.data?.status === "running";
  const artifacts = useArtifacts(runId, running);

  if (run.error) {
    return (
      <div className="run-page">
        <PageHeader crumbs={[["Runs", "/runs"]]} title="Run not found" />
        <ErrorMessage error={run.error} what={`run ${runId}`} />
        <p>
          <Link to="/runs">Back to the runs</Link>
        </p>
      </div>
    );
  }
  if (!run.data) return <Loading what="run" />;

  const r = run.data;
  const keys = Object.keys(r.metrics);
  const userMetrics = keys.filter((k) => !isSystemMetric(k)).length;
  const systemMetrics = keys.length - userMetrics;
  const files = artifacts.data ?? [];
  const count = (n: number) => (n > 0 ? <span className="run-tab-count">{n.toLocaleString("en-US")}</span> : null);
  const tabs: Tab[] = [
    { id: "overview", label: "Overview", render: () => <OverviewTab run={r} artifacts={artifacts} /> },
    { id: "metrics", label: <>Metrics {count(userMetrics)}</>, render: () => <MetricsTab run={r} /> },
    { id: "system", label: <>System {count(systemMetrics)}</>, render: () => <SystemTab run={r} /> },
    { id: "artifacts", label: <>Artifacts {count(files.length)}</>, render: () => <ArtifactsTab run={r} artifacts={artifacts} /> },
    { id: "code", label: "Code", render: () => <CodeTab run={r} artifacts={artifacts} /> },
    { id: "environment", label: "Environment", render: () => <EnvironmentTab run={r} artifacts={artifacts} /> },
    { id: "logs", label: "Logs", render: () => <LogsTab run={r} artifacts={artifacts} /> },
    { id: "lineage", label: "Lineage", render: () => <LineageTab run={r} /> },
  ];
  return (
    <div className="run-page" data-testid="run-page">
      <RunHeader run={r} />
      <Tabs tabs={tabs} />
    </div>
  );
}
