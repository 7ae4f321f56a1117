// One feature view: its definition in words, its versions with what changed, its online
// values (materialization, freshness, a lookup) and the training sets built from it.
import { Link, useParams } from "react-router";
import { seg } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Pending } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { Tabs } from "../components/Tabs";
import { formatAgo, formatNumber, formatTime } from "../format";
import { DefinitionTab } from "./feature/DefinitionTab";
import { type DefinitionVersion, type FeatureViewInfo, type TrainingSet, asViewDefinition } from "./feature/logic";
import { OnlineTab } from "./feature/OnlineTab";
import { TrainingSetsTab } from "./feature/TrainingSetsTab";
import { VersionsTab } from "./feature/VersionsTab";
import "./dataset/dataset.css";
import "./feature/feature.css";
import "./project/projects.css";

export default function FeatureView() {
  const { project = "", view: name = "" } = useParams();
  const base = `/projects/${seg(project)}/features`;
  const view = useGet<FeatureViewInfo>(`${base}/views/${seg(name)}`);
  const ok = Boolean(view.data);
  const versions = useGet<DefinitionVersion[]>(ok ? `${base}/views/${seg(name)}/versions` : null);
  const trainingSets = useGet<TrainingSet[]>(ok ? `${base}/training-sets` : null, { view: name });

  const crumbs: [string, string][] = [
    ["Feature views", "/features"],
    [project, `/features?project=${encodeURIComponent(project)}`],
  ];
  if (view.error)
    return (
      <div>
        <PageHeader crumbs={crumbs} title={name} />
        <ErrorMessage error={view.error} what={`feature view ${project}/${name}`} />
        <p>
          <Link to="/features">All feature views</Link>
        </p>
      </div>
    );
  const v = view.data;
  const definition = v ? asViewDefinition(v.definition) : null;
  const now = Date.now();

  return (
    <div>
      <PageHeader
        crumbs={crumbs}
        title={
          <>
            <span>{name}</span>
            {v && <span className="ds-chip accent">v{v.version}</span>}
          </>
        }
      >
        {v && (
          <Link className="btn-like" to={`/projects/${seg(v.project)}`}>
            Project {v.project}
          </Link>
        )}
      </PageHeader>
      <Pending query={view} what="the feature view" />
      {v && definition && (
        <>
          <div className="ds-head">
            <div className="ds-about">
              Features of {v.entities.length === 1 ? "entity" : "entities"} <b>{v.entities.join(", ")}</b> computed from the events of dataset{" "}
              <Link to={`/datasets/${seg(v.project)}/${seg(v.source)}`}>
                {v.project}/{v.source}
              </Link>
              <div className="small">
                defined {formatAgo(v.created_at, now)} · last changed {formatAgo(v.updated_at, now)} ({formatTime(v.updated_at)}) · fingerprint{" "}
                <span className="ds-mono" title={v.fingerprint}>
                  {v.fingerprint.slice(0, 12)}
                </span>
              </div>
            </div>
          </div>
          <div className="ds-cards" style={{ marginTop: 12 }}>
            <Card label="features" value={formatNumber(v.features.length)} />
            <Card label="versions" value={formatNumber(v.versions)} />
            <Card label="keys" value={v.keys.join(", ")} small />
            <Card label="events online" value={v.online ? formatNumber(v.online.events) : "—"} />
            <Card
              label="newest event online"
              value={v.online?.newest_event_at ? formatAgo(v.online.newest_event_at, now) : v.online ? "—" : "not materialized"}
              title={formatTime(v.online?.newest_event_at)}
              small
            />
            <Card label="training sets" value={trainingSets.data ? formatNumber(trainingSets.data.length) : trainingSets.error ? "—" : "…"} />
          </div>
          <Tabs
            tabs={[
              { id: "definition", label: "Definition", render: () => <DefinitionTab view={v} definition={definition} /> },
              { id: "versions", label: `Versions (${v.versions})`, render: () => <VersionsTab view={v} versions={versions} trainingSets={trainingSets.data ?? []} /> },
              { id: "online", label: "Online", render: () => <OnlineTab view={v} definition={definition} /> },
              {
                id: "training-sets",
                label: `Training sets${trainingSets.data ? ` (${trainingSets.data.length})` : ""}`,
                render: () => <TrainingSetsTab view={v} trainingSets={trainingSets} />,
              },
            ]}
          />
        </>
      )}
    </div>
  );
}

function Card({ label, value, title, small = false }: { label: string; value: string; title?: string; small?: boolean }) {
  return (
    <div className="card" title={title}>
      <div className={`value${small ? " small-value" : ""}`}>{value}</div>
      <div className="label">{label}</div>
    </div>
  );
}
