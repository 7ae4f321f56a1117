// One registered model: a banner while it is frozen, its traffic split, versions, aliases
// (with gates and history), its whole history, for the chosen version (?version=,
// default latest) its card, lineage and signature, and its monitors (monitoring/).
import { Link, useParams, useSearchParams } from "react-router";
import { type Schemas, seg } from "../api/client";
import { useGet } from "../api/hooks";
import { ErrorMessage, Loading, Pending } from "../components/ErrorMessage";
import { PageHeader } from "../components/PageHeader";
import { Tabs } from "../components/Tabs";
import { formatAgo, formatTime } from "../format";
import { AliasesTab } from "./model/AliasesTab";
import { CardTab } from "./model/CardTab";
import { HistoryTab } from "./model/HistoryTab";
import { LineageTab } from "./model/LineageTab";
import { signatureSummary } from "./model/logic";
import { FrozenBanner, TrafficPanel } from "./model/ServingPanel";
import { SignatureTab } from "./model/SignatureTab";
import { VersionsTab } from "./model/VersionsTab";
import { MonitoringTab } from "./monitoring/MonitoringTab";
import { PredictionLogLink } from "./serving/PredictionLogLink";
import "./model/model.css";

export default function Model() {
  const { name = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const base = `/models/${seg(name)}`;
  const model = useGet<Schemas["RegisteredModel"]>(base);
  const versions = useGet<Schemas["dockyard__registry__schemas__VersionPage"]>(model.data ? `${base}/versions` : null, { limit: 1000 });
  const aliases = useGet<Schemas["Alias"][]>(model.data ? `${base}/aliases` : null);
  const wanted = params.get("version") ?? (model.data?.latest_version ? String(model.data.latest_version) : null);
  const version = useGet<Schemas["ModelVersion"]>(model.data && wanted ? `${base}/versions/${seg(wanted)}` : null);

  const crumbs: [string, string][] = [["Models", "/models"]];
  if (model.data) crumbs.push([model.data.project, `/models?project=${encodeURIComponent(model.data.project)}`]);
  if (model.error)
    return (
      <div>
        <PageHeader crumbs={crumbs} title={name} />
        <ErrorMessage error={model.error} what={`model ${name}`} />
        <p>
          <Link to="/models">All models</Link>
        </p>
      </div>
    );
  const m = model.data;
  const v = version.data;
  const items = [...(versions.data?.items ?? [])].sort((a, b) => b.version - a.version);
  // metrics the gates look at come first wherever metrics are shown
  const preferred = Array.from(new Set((aliases.data ?? []).flatMap((a) => (a.policy?.gates ?? []).map((g) => g.metric))));
  const select = (n: number) =>
    setParams((old) => {
      const next = new URLSearchParams(old);
      next.set("version", String(n));
      return next;
    });
  const aliasEntries = Object.entries(m?.aliases ?? {});
  const tags = Object.entries(m?.tags ?? {});

  return (
    <div>
      <PageHeader
        crumbs={crumbs}
        title={
          <>
            <span>{name}</span>
            {aliasEntries.map(([alias, n]) => (
              <Link key={alias} className="md-alias" to={`${base}?version=${n}`} title={`@${alias} points at v${n}`}>
                @{alias} <span className="md-alias-v">v{n}</span>
              </Link>
            ))}
          </>
        }
      >
        <PredictionLogLink name={name} />
        {items.length > 0 && (
          <label className="md-version-pick">
            Version
            <select value={v?.version ?? wanted ?? ""} onChange={(e) => select(Number(e.target.value))} data-testid="model-version-select">
              {wanted && !v && !items.some((i) => String(i.version) === wanted) && <option value={wanted}>{wanted}</option>}
              {items.map((i) => (
                <option key={i.version} value={i.version}>
                  v{i.version}
                  {i.version === m?.latest_version ? " (latest)" : ""}
                  {(i.aliases ?? []).length ? ` @${(i.aliases ?? []).join(" @")}` : ""}
                </option>
              ))}
            </select>
          </label>
        )}
      </PageHeader>
      <Pending query={model} what="the model" />
      {m && (
        <>
          <FrozenBanner model={m} />
          <div className="md-about">
            {m.description ? <div>{m.description}</div> : v?.description ? <div>{v.description}</div> : <div className="muted">No description.</div>}
            {tags.length > 0 && (
              <div style={{ marginTop: 6 }}>
                {tags.map(([k, value]) => (
                  <span key={k} className="md-tag">
                    <b>{k}</b>
                    {value ? `: ${value}` : ""}
                  </span>
                ))}
              </div>
            )}
            <div className="md-meta">
              in project <Link to={`/projects/${seg(m.project)}`}>{m.project}</Link> · registered {formatAgo(m.created_at)} by {m.created_by} · updated{" "}
              <span title={formatTime(m.updated_at)}>{formatAgo(m.updated_at)}</span>
            </div>
          </div>
          <TrafficPanel model={m} />
          <div className="md-cards">
            <Card label="latest version" value={m.latest_version ? `v${m.latest_version}` : "—"} />
            <Card label="versions" value={versions.data ? String(items.length) : "…"} />
            <Card label="aliases" value={String(aliasEntries.length)} />
            <Card label={v ? `flavor (v${v.version})` : "flavor"} value={v ? v.flavor : version.error ? "—" : "…"} />
            <Card label={v ? `signature (v${v.version})` : "signature"} value={v ? signatureSummary(v.manifest.signature) : version.error ? "—" : "…"} small />
          </div>
          <Pending query={versions} what="the versions" />
          {wanted && <Pending query={version} what={`version ${wanted} of ${name}`} />}
          <Tabs
            tabs={[
              {
                id: "versions",
                label: `Versions (${items.length})`,
                render: () => <VersionsTab name={name} versions={items} selected={v?.version ?? null} preferred={preferred} onSelect={select} />,
              },
              {
                id: "aliases",
                label: `Aliases (${aliasEntries.length})`,
                render: () => (aliases.data ? <AliasesTab name={name} aliases={aliases.data} /> : <Pending query={aliases} what="the aliases" />),
              },
              { id: "history", label: "History", render: () => <HistoryTab name={name} /> },
              { id: "card", label: "Card", render: () => (v ? <CardTab name={name} version={v.version} /> : <NoVersion wanted={wanted} loading={Boolean(wanted) && !version.error} />) },
              { id: "lineage", label: "Lineage", render: () => (v ? <LineageTab name={name} version={v.version} preferred={preferred} /> : <NoVersion wanted={wanted} loading={Boolean(wanted) && !version.error} />) },
              { id: "signature", label: "Signature", render: () => (v ? <SignatureTab version={v} /> : <NoVersion wanted={wanted} loading={Boolean(wanted) && !version.error} />) },
              { id: "monitoring", label: "Monitoring", render: () => <MonitoringTab name={name} /> },
            ]}
          />
        </>
      )}
    </div>
  );
}

function NoVersion({ wanted, loading }: { wanted: string | null; loading: boolean }) {
  if (loading) return <Loading what={`version ${wanted}`} />;
  return <p className="muted">{wanted ? `Version ${wanted} could not be loaded (see above).` : "This model has no versions yet."}</p>;
}

function Card({ label, value, small = false }: { label: string; value: string; small?: boolean }) {
  return (
    <div className="card">
      <div className={`value ${small ? "md-small" : ""}`} title={value}>
        {value}
      </div>
      <div className="label">{label}</div>
    </div>
  );
}
