// The Compare page on runs of the seeded home: curves, diff tables, parallel coordinates,
// scatter, the view in the URL, unknown ids and too few runs.
import { beforeAll, describe, expect, it } from "vitest";
import { formatNumber } from "../src/format";
import { api, expectNoErrors, open, poll, seed, shot } from "./support";

interface ApiRun {
  id: string;
  name: string;
  params?: Record<string, string>;
  metrics?: Record<string, { last: number }>;
}

let runs: ApiRun[] = [];

beforeAll(async () => {
  // top-level runs with metrics and params, of the project `scale` if it is there
  const projects = await api<{ items: { name: string }[] }>("/projects?limit=1000");
  const scoped = projects.items.some((p) => p.name === "scale") ? ["scale"] : [];
  const page = await api<{ items: ApiRun[] }>("/runs/search", { projects: scoped, query: "parent_id IS NULL", limit: 50 });
  runs = page.items.filter((r) => Object.keys(r.metrics ?? {}).length && Object.keys(r.params ?? {}).length).slice(0, 3);
  expect(runs.length).toBe(3);
});

const unionKeys = (kind: "params" | "metrics") => [...new Set(runs.flatMap((r) => Object.keys(r[kind] ?? {})))].sort();

describe("compare", () => {
  it("overlays the runs' curves, diffs their params and metrics, and charts params against a metric", async () => {
    const { page, errors } = await open(`/compare?runs=${runs.map((r) => r.id).join(",")}`);
    await poll(() => page.getByTestId("compare-run").count()).toBe(3);
    const metric = unionKeys("metrics")[0];
    const curves = page.getByTestId("compare-curves");
    await poll(() => curves.getAttribute("data-lines")).toBe(String(runs.filter((r) => r.metrics?.[metric]).length));
    expect(await curves.getAttribute("data-metric")).toBe(metric);
    for (const id of ["curves-chart", "parallel-chart", "scatter-chart"]) expect(await page.getByTestId(id).locator("canvas").count()).toBe(1);

    // params: one row per key, the differing ones marked; "only differences" hides the rest
    const params = page.getByTestId("params-diff");
    const keys = unionKeys("params");
    expect(await params.getByTestId("diff-row").count()).toBe(keys.length);
    const differing = keys.filter((k) => runs.some((r) => r.params?.[k] !== runs[0].params?.[k]));
    expect(await params.locator("[data-testid=diff-row][data-differs=true]").count()).toBe(differing.length);
    // the box follows the URL: a click while the page is still settling can be undone by a
    // re-render, so click until it stays checked
    const onlyDiff = page.getByTestId("params-diff-only-diff");
    await poll(async () => {
      if (!(await onlyDiff.isChecked())) await onlyDiff.click();
      return onlyDiff.isChecked();
    }).toBe(true);
    await poll(() => params.getByTestId("diff-row").count()).toBe(differing.length);
    expect(new URL(page.url()).searchParams.get("diff")).toBe("1");

    // metrics: last values, formatted
    const row = page.getByTestId("metrics-diff").locator(`[data-testid=diff-row][data-key="${metric}"]`);
    const cells = await row.locator("td").allTextContents();
    expect(cells).toEqual(runs.map((r) => (r.metrics?.[metric] ? formatNumber(r.metrics[metric].last) : "—")));

    // chart choices live in the URL
    const other = unionKeys("metrics")[1] ?? metric;
    await page.getByTestId("curve-metric").selectOption(other);
    const logScale = page.getByTestId("curve-log");
    await poll(async () => {
      // a re-render after the metric change may undo a click: click until it stays checked
      if (!(await logScale.isChecked())) await logScale.click();
      return logScale.isChecked();
    }).toBe(true);
    await page.getByTestId("curve-x").selectOption("relative");
    await page.getByTestId("curve-smooth").fill("0.6");
    await poll(() => new URL(page.url()).searchParams.get("smooth")).toBe("0.6");
    const url = new URL(page.url()).searchParams;
    expect([url.get("metric"), url.get("log"), url.get("x")]).toEqual([other === metric ? null : other, "1", "relative"]);
    await poll(() => curves.getAttribute("data-metric")).toBe(other);

    const param = differing[0] ?? keys[0];
    await page.getByTestId("scatter-x").selectOption(`params.${param}`);
    await poll(() => new URL(page.url()).searchParams.get("sx")).toBe(`params.${param}`);
    await expectNoErrors(page, errors);
    await shot(page, "compare");
  });

  it("names unknown run ids and shows the others", async () => {
    const { page, errors } = await open(`/compare?runs=${runs[0].id},no-such-run,${runs[1].id},another-missing`);
    const missing = page.getByTestId("missing-runs");
    await missing.waitFor();
    // each run is fetched on its own, so the second unknown id may be named a moment after the first
    await poll(async () => (await missing.textContent()) ?? "").toContain("another-missing");
    expect((await missing.textContent()) ?? "").toContain("no-such-run");
    await poll(() => page.getByTestId("compare-run").count()).toBe(2);
    await page.getByTestId("curves-chart").waitFor();
    expect(errors).toEqual([]);
    await shot(page, "compare-unknown-ids");

    await page.getByTestId("drop-missing").click();
    await poll(() => new URL(page.url()).searchParams.get("runs")).toBe(`${runs[0].id},${runs[1].id}`);
    await missing.waitFor({ state: "detached" });
  });

  it("explains how to pick runs when there are fewer than two", async () => {
    const { page, errors } = await open("/compare");
    await page.getByTestId("compare-help").waitFor();
    expect(await page.getByTestId("compare-help").textContent()).toContain("/compare?runs=");
    await expectNoErrors(page, errors);

    const one = await open(`/compare?runs=${runs[0].id}`);
    await one.page.getByTestId("compare-help").waitFor();
    expect(await one.page.getByTestId("compare-help").textContent()).toContain(runs[0].name);
    await shot(one.page, "compare-one-run");
  });

  it("draws bars for a metric each run logged once, one label for runs at the same point, and no empty selector", async () => {
    const ids = await singleValueRuns();
    const { page, errors } = await open(`/compare?runs=${ids.join(",")}&metric=auc`);
    await page.getByTestId("curves-single").waitFor();
    expect(await page.getByTestId("compare-curves").getAttribute("data-bars")).toBe("2");
    await page.locator("[data-testid=bars-chart] canvas").waitFor();
    // both runs have the same params and rows: one point, labelled once with both names
    await page.getByTestId("scatter-x").selectOption("params.model");
    await page.getByTestId("scatter-y").selectOption("metrics.rows");
    await poll(async () => JSON.parse((await page.getByTestId("compare-scatter").getAttribute("data-labels")) ?? "[]")).toHaveLength(1);
    const [label] = JSON.parse((await page.getByTestId("compare-scatter").getAttribute("data-labels")) ?? "[]");
    expect(label).toContain(", ");
    expect(await emptySelects(page)).toBe(0);
    await expectNoErrors(page, errors);
    await shot(page, "compare-single-values");
  });

  it("two pipeline runs (no metrics of their own) get no empty selectors", async () => {
    const { demo, failed_pipeline_run } = seed();
    const { page, errors } = await open(`/compare?runs=${demo.pipeline_run},${failed_pipeline_run}`);
    await page.getByTestId("curves-none").waitFor();
    expect(await emptySelects(page)).toBe(0);
    await expectNoErrors(page, errors);
  });
});

const SINGLE_PROJECT = "compare-single-values";

/** Two runs (made once) with the same params and metrics logged once each. */
async function singleValueRuns(): Promise<string[]> {
  const projects = await api<{ items: { name: string }[] }>("/projects?limit=1000");
  if (!projects.items.some((p) => p.name === SINGLE_PROJECT)) await api("/projects", { name: SINGLE_PROJECT });
  const found = await api<{ items: ApiRun[] }>("/runs/search", { projects: [SINGLE_PROJECT], limit: 10, order_by: "name ASC" });
  if (found.items.length >= 2) return found.items.slice(0, 2).map((r) => r.id);
  const ids: string[] = [];
  for (const [name, auc] of [["scoring-a", 0.91], ["scoring-b", 0.87]] as const) {
    const run = await api<ApiRun>("/runs", { project: SINGLE_PROJECT, name, params: { model: "gbm" } });
    const series = (value: number) => ({ steps: [0], timestamps: [Date.now()], values: [value] });
    await api(`/runs/${run.id}/metrics`, { series: { auc: series(auc), rows: series(1000) } });
    ids.push(run.id);
  }
  return ids;
}

/** How many <select> on the page offer nothing to pick. */
const emptySelects = (page: import("playwright-core").Page) =>
  page.locator("select").evaluateAll((selects) => selects.filter((s) => (s as HTMLSelectElement).options.length === 0).length);
