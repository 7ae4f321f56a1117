// The run page (/runs/:runId): every tab on the seeded runs, every artifact preview kind,
// and an unknown id.
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { api, baseURL, expectNoErrors, open, record, seed, shot } from "./support";

interface RunLite {
  id: string;
  name: string;
  status: string;
  parent_id: string | null;
}

const search = async (query: string, projects: string[] = []) =>
  (await api<{ items: RunLite[] }>("/runs/search", { query, projects, limit: 20, order_by: "start_time DESC" })).items;


const ids = {
  pipeline: "",
  train: "",
  artifacts: "",
  failed: "",
  evaluate: "",
};
/** One artifact path of each kind on the artifacts run (from its listing, whoever seeded it). */
const files: Record<string, string | undefined> = {};
let artifactList: { path: string; size: number }[] = [];
let runMetrics: Record<string, { count: number }> = {};

beforeAll(async () => {
  const s = seed();
  ids.pipeline = s.demo.pipeline_run;
  ids.train = (await search(`parent_id = '${ids.pipeline}' AND name = 'train'`))[0]?.id ?? "";
  ids.evaluate = (await search(`parent_id = '${ids.pipeline}' AND name = 'evaluate'`))[0]?.id ?? "";
  ids.artifacts = s.preview_run;
  ids.failed = s.failed_run;
  artifactList = await api<{ path: string; size: number }[]>(`/runs/${ids.artifacts}/artifacts`);
  const pick = (test: (p: string) => boolean) => artifactList.find((f) => !f.path.startsWith("dockyard/") && test(f.path))?.path;
  files.text = pick((p) => p.endsWith(".txt"));
  files.json = pick((p) => p.endsWith(".json") && !p.endsWith("/model.json"));
  files.image = pick((p) => p.endsWith(".png"));
  files.parquet = pick((p) => p.endsWith(".parquet") && !p.includes("input_example"));
  files.csv = pick((p) => p.endsWith(".csv"));
  files.tsv = pick((p) => p.endsWith(".tsv"));
  files.html = pick((p) => p.endsWith(".html"));
  files.binary = pick((p) => p.endsWith(".bin"));
  files.big = artifactList.find((f) => /\.(txt|log)$/.test(f.path) && f.size > 200 * 1024)?.path;
  files.model = artifactList.find((f) => f.path.endsWith("/model.json"))?.path.replace(/model\.json$/, "");
  runMetrics = (await api<{ metrics: Record<string, { count: number }> }>(`/runs/${ids.artifacts}`)).metrics;
});

async function settle(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(300);
}

describe("the run page", () => {
  it("shows a step run's header, parent pipeline and overview", async () => {
    expect(ids.train).not.toBe("");
    const started = performance.now();
    const { page, errors } = await open(`/runs/${ids.train}`);
    await page.getByTestId("run-params").waitFor();
    record("run page: overview visible", performance.now() - started);
    expect(await page.getByTestId("run-name").textContent()).toBe("train");
    expect(await page.locator(".page-header .status").first().textContent()).toBe("finished");
    const crumbs = await page.locator(".crumbs").textContent();
    expect(crumbs).toContain("fraud");
    expect(await page.locator(".crumbs a").nth(2).getAttribute("href")).toMatch(/^\/runs\?project=fraud&experiment=/);
    const parent = page.getByTestId("run-parent");
    await parent.waitFor();
    expect(await parent.getAttribute("href")).toBe(`/pipelines/${ids.pipeline}`);
    expect(await page.getByTestId("run-params").textContent()).toContain("learning_rate");
    const metrics = await page.getByTestId("run-overview-metrics").textContent();
    expect(metrics).toContain("train_rows");
    expect(metrics).toContain("166,763");
    await expectNoErrors(page, errors);
    await shot(page, "run-overview");
  });

  it("lists a pipeline run's steps", async () => {
    const { page, errors } = await open(`/runs/${ids.pipeline}`);
    await page.getByTestId("run-children").waitFor();
    const steps = await page.getByTestId("run-children").textContent();
    for (const step of ["featurize", "train", "evaluate"]) expect(steps).toContain(step);
    await expectNoErrors(page, errors);
  });

  it("shows the commit and the uncommitted diff of a run started in a git checkout", async () => {
    const { page, errors } = await open(`/runs/${seed().code_run}?tab=code`);
    await page.getByTestId("git-commit").waitFor();
    expect(await page.getByTestId("git-commit").textContent()).toMatch(/^[0-9a-f]{40}$/);
    await page.getByTestId("diff").waitFor();
    expect(await page.getByTestId("diff-file").count()).toBeGreaterThan(0);
    const diff = await page.getByTestId("diff").textContent();
    expect(diff).toContain("LEARNING_RATE = 0.05");
    expect(diff).toContain("notes.md");
    expect(await page.locator(".run-diff-table .diff-add").count()).toBeGreaterThan(0);
    expect(await page.locator(".run-diff-table .diff-hunk").count()).toBeGreaterThan(0);
    await expectNoErrors(page, errors);
    await shot(page, "run-code");
  });

  it("shows the environment with a package filter", async () => {
    const { page, errors } = await open(`/runs/${ids.pipeline}?tab=environment`);
    await page.getByTestId("env-summary").waitFor();
    expect(await page.getByTestId("env-summary").textContent()).toMatch(/Python\s*3\.\d+/);
    const rows = page.locator("[data-testid=env-packages] tbody tr");
    const all = await rows.count();
    expect(all).toBeGreaterThan(10);
    await page.getByTestId("package-filter").fill("pandas");
    await page.waitForTimeout(100);
    expect(await rows.count()).toBeLessThan(all);
    expect(await page.getByTestId("env-packages").textContent()).toContain("pandas");
    await page.getByTestId("package-filter").fill("");
    await expectNoErrors(page, errors);
    await shot(page, "run-environment");
  });

  it("says where a step's code is recorded", async () => {
    const { page, errors } = await open(`/runs/${ids.train}?tab=code`);
    await page.getByTestId("code-empty").waitFor();
    expect(await page.getByTestId("parent-hint").getAttribute("href")).toBe(`/runs/${ids.pipeline}?tab=code`);
    await expectNoErrors(page, errors);
  });

  it("draws a run's inputs and outputs", async () => {
    const id = ids.evaluate || ids.pipeline;
    const { page, errors } = await open(`/runs/${id}?tab=lineage`);
    await page.getByTestId("lineage-graph").waitFor();
    const labels = await page.locator("[data-testid=lineage-graph] .graph-label").allTextContents();
    expect(labels).toContain("transactions");
    if (ids.evaluate) expect(labels).toContain("fraud-detector");
    await expectNoErrors(page, errors);
    await shot(page, "run-lineage");
    await page.locator("[data-testid=lineage-graph] .graph-node.tone-dataset").first().click();
    await page.waitForURL(/\/datasets\/fraud\/transactions\?version=\d+/);
  });
});

describe("the run page on a run with every artifact kind", () => {
  const need = () => {
    if (!ids.artifacts) throw new Error("no run with Parquet and PNG artifacts: the seed (preview_run) must make one");
  };
  const longest = () =>
    Object.entries(runMetrics)
      .filter(([k]) => !k.startsWith("system/"))
      .sort(([, a], [, b]) => b.count - a.count)[0];

  it("charts metrics, downsampled, refetched denser on zoom, with smoothing and x axis in the URL", async () => {
    need();
    const [key, summary] = longest();
    expect(summary.count).toBeGreaterThanOrEqual(10_000);
    const started = performance.now();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=metrics`);
    await page.getByTestId("metrics-tab").waitFor();
    const long = page.locator(`[data-testid=metric-chart][data-metric="${key}"]`);
    await long.locator("[data-testid=chart-points]", { hasText: `of ${summary.count.toLocaleString("en-US")}` }).waitFor({ timeout: 30_000 });
    record(`run page: ${summary.count.toLocaleString("en-US")}-point chart drawn`, performance.now() - started);
    // no system metric on this tab; single values are listed, not charted
    expect(await page.locator("[data-testid=metric-chart][data-metric^='system/']").count()).toBe(0);
    const singles = Object.entries(runMetrics).filter(([k, m]) => m.count === 1 && !k.startsWith("system/"));
    if (singles.length) expect(await page.getByTestId("metric-scalars").textContent()).toContain(singles[0][0]);
    const shownPoints = async () => Number(((await long.getByTestId("chart-points").textContent()) ?? "").replace(/,/g, "").split(" ")[0]);
    const first = await shownPoints();
    expect(first).toBeGreaterThan(500);
    expect(first).toBeLessThan(summary.count);
    // zooming in (mouse wheel) fetches the series again, denser
    const box = await long.locator("canvas").first().boundingBox();
    expect(box).not.toBeNull();
    if (box) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 3);
      for (let i = 0; i < 8; i += 1) {
        await page.mouse.wheel(0, -300);
        await page.waitForTimeout(60);
      }
    }
    await long.locator("button", { hasText: "reset zoom" }).waitFor();
    await page.waitForFunction(
      ([el, before]) => {
        const text = (el as Element | null)?.querySelector("[data-testid=chart-points]")?.textContent ?? "";
        const n = Number(text.replace(/,/g, "").split(" ")[0]);
        return !text.includes("loading") && n >= 2 * (before as number);
      },
      [await long.elementHandle(), first] as const,
      { timeout: 20_000 },
    );
    // URL state: x axis, filter, smoothing
    await page.getByRole("button", { name: "Relative time" }).click();
    const word = key.split("/").pop() ?? key;
    await page.getByTestId("metric-filter").fill(word);
    await page.getByTestId("smoothing").fill("0.8");
    await page.waitForTimeout(200);
    const url = new URL(page.url());
    expect(url.searchParams.get("x")).toBe("relative");
    expect(url.searchParams.get("q")).toBe(word);
    expect(url.searchParams.get("smooth")).toBe("0.8");
    for (const k of await page.locator("[data-testid=metric-chart]").evaluateAll((els) => els.map((e) => e.getAttribute("data-metric") ?? ""))) {
      expect(k.toLowerCase()).toContain(word.toLowerCase());
    }
    await page.getByTestId("metric-filter").fill("");
    await page.getByTestId("smoothing").fill("0.6");
    await page.getByRole("button", { name: "Step", exact: true }).click();
    await settle(page);
    await expectNoErrors(page, errors);
    await shot(page, "run-metrics");
  });

  it("charts system metrics against time (or says there are none)", async () => {
    need();
    // the artifacts run, or any run that sampled its CPU
    let id = ids.artifacts;
    let metrics = runMetrics;
    if (!Object.keys(metrics).some((k) => k.startsWith("system/"))) {
      const found = (await search("metrics.`system/cpu_percent` IS NOT NULL")) as (RunLite & { metrics: Record<string, { count: number }> })[];
      const other = found.find((r) => (r.metrics["system/cpu_percent"]?.count ?? 0) > 1);
      if (other) {
        id = other.id;
        metrics = other.metrics;
      }
    }
    const { page, errors } = await open(`/runs/${id}?tab=system`);
    const system = Object.keys(metrics).filter((k) => k.startsWith("system/") && metrics[k].count > 1);
    if (system.length === 0) {
      await page.getByTestId("system-empty").waitFor();
      console.warn("no run has system metrics: run-system.png shows the empty state");
    } else {
      await page.getByTestId("system-tab").waitFor();
      const charts = page.locator("[data-testid=metric-chart]");
      await charts.first().getByTestId("chart-points").waitFor();
      const keys = await charts.evaluateAll((els) => els.map((e) => e.getAttribute("data-metric") ?? ""));
      expect(keys.sort()).toEqual(system.sort());
      if (system.includes("system/cpu_percent")) expect(await page.getByTestId("system-tab").textContent()).toContain("CPU utilisation");
    }
    await settle(page);
    await expectNoErrors(page, errors);
    await shot(page, "run-system");
  });

  const preview = async (path: string) => {
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=artifacts&path=${encodeURIComponent(path)}`);
    await page.getByTestId("artifact-tree").waitFor();
    return { page, errors };
  };
  const content = async (path: string) => (await fetch(`${baseURL()}/api/v1/runs/${ids.artifacts}/artifacts/content?path=${encodeURIComponent(path)}`)).text();

  it("previews text, and says when it shows only the beginning", async () => {
    need();
    const path = files.text as string;
    let { page, errors } = await preview(path);
    await page.getByTestId("preview-text").waitFor();
    const firstLine = (await content(path)).split("\n")[0];
    expect(await page.getByTestId("preview-text").textContent()).toContain(firstLine);
    expect(await page.locator(".run-tree-row.selected").getAttribute("data-path")).toBe(path);
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-text");
    if (files.big) {
      ({ page, errors } = await preview(files.big));
      await page.getByTestId("truncated").waitFor();
      expect(await page.getByTestId("truncated").textContent()).toMatch(/first 200(\.0)? KiB/);
      await expectNoErrors(page, errors);
    }
  });

  it("pretty-prints JSON", async () => {
    need();
    const path = files.json as string;
    const { page, errors } = await preview(path);
    await page.getByTestId("preview-json").waitFor();
    const text = (await page.getByTestId("preview-json").textContent()) ?? "";
    expect(JSON.parse(text)).toEqual(JSON.parse(await content(path)));
    expect(text).toBe(JSON.stringify(JSON.parse(text), null, 2));
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-json");
  });

  it("shows images", async () => {
    need();
    const { page, errors } = await preview(files.image as string);
    const img = page.getByTestId("preview-image");
    await img.waitFor();
    await page.waitForFunction((el) => ((el as HTMLImageElement | null)?.naturalWidth ?? 0) > 0, await img.elementHandle());
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-image");
  });

  it("shows tables: Parquet, CSV and TSV", async () => {
    need();
    for (const path of [files.parquet, files.csv, files.tsv]) {
      if (!path) continue;
      const { page, errors } = await preview(path);
      await page.getByTestId("preview-table").waitFor();
      const header = (await content(path)).split("\n")[0].split(path.endsWith(".tsv") ? "\t" : ",");
      const headers = (await page.locator("[data-testid=preview-table] thead th").allTextContents()).join(" ");
      if (!path.endsWith(".parquet")) for (const column of header) expect(headers).toContain(column.trim());
      expect(await page.locator("[data-testid=preview-table] thead th").count()).toBeGreaterThan(2);
      expect(await page.locator("[data-testid=preview-table] tbody tr").count()).toBeGreaterThan(10);
      expect(await page.getByTestId("table-meta").textContent()).toMatch(/rows/);
      await expectNoErrors(page, errors);
      if (path.endsWith(".parquet")) await shot(page, "run-artifacts-table");
      if (path.endsWith(".csv")) await shot(page, "run-artifacts-csv");
    }
  });

  it("renders HTML in a sandbox", async () => {
    need();
    const path = files.html as string;
    const { page, errors } = await preview(path);
    const frame = page.getByTestId("preview-html");
    await frame.waitFor();
    expect(await frame.getAttribute("sandbox")).toBe("");
    const title = /<h1>([^<]*)<\/h1>/.exec(await content(path))?.[1];
    if (title) expect(await page.frameLocator("[data-testid=preview-html]").locator("h1").textContent()).toBe(title);
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-html");
  });

  it("offers a download for other files and shows model folders as models", async () => {
    need();
    if (files.binary) {
      const { page, errors } = await preview(files.binary);
      await page.getByTestId("preview-binary").waitFor();
      expect(await page.locator("[data-testid=preview-binary] [data-testid=download]").getAttribute("href")).toBe(
        `/api/v1/runs/${ids.artifacts}/artifacts/content?path=${encodeURIComponent(files.binary)}`,
      );
      await expectNoErrors(page, errors);
    }
    if (files.model) {
      const { page, errors } = await preview(files.model);
      await page.getByTestId("model-summary").waitFor();
      expect(await page.getByTestId("model-summary").textContent()).toContain(`runs:/${ids.artifacts}/${files.model.replace(/\/$/, "")}`);
      expect(await page.locator(`.run-tree-row[data-path='${files.model}'] .run-badge.model`).count()).toBe(1);
      await settle(page);
      await expectNoErrors(page, errors);
      await shot(page, "run-artifacts-model");
    }
  });

  it("selecting a file in the tree puts it in the URL", async () => {
    need();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=artifacts`);
    await page.getByTestId("artifact-tree").waitFor();
    const path = files.json as string;
    // open the folders above it first
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i += 1) {
      const folder = `${parts.slice(0, i).join("/")}/`;
      const row = page.locator(`.run-tree-row[data-path='${folder}']`);
      if ((await row.getAttribute("aria-expanded")) !== "true") await row.click();
    }
    await page.locator(`.run-tree-row[data-path='${path}']`).click();
    await page.getByTestId("preview-json").waitFor();
    expect(new URL(page.url()).searchParams.get("path")).toBe(path);
    await expectNoErrors(page, errors);
  });

  it("shows the printed output", async () => {
    need();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=logs`);
    await page.getByTestId("log-text").waitFor();
    const log = await content("dockyard/output.log");
    expect(await page.getByTestId("log-text").textContent()).toContain(log.trim().split("\n")[0]);
    expect(await page.getByTestId("follow-tail").isChecked()).toBe(true);
    // a finished run is not polled
    expect(await page.getByTestId("logs-live").count()).toBe(0);
    await expectNoErrors(page, errors);
    await shot(page, "run-logs");
  });
});

describe("the run page, other cases", () => {
  it("shows a failed run", async () => {
    expect(ids.failed).not.toBe("");
    const { page, errors } = await open(`/runs/${ids.failed}`);
    await page.getByTestId("run-overview").waitFor();
    expect(await page.locator(".page-header .status").first().textContent()).toBe("failed");
    await page.getByTestId("run-duration").waitFor();
    // the end of its output, where the reason usually is
    await page.getByTestId("run-failure").waitFor();
    await settle(page);
    await expectNoErrors(page, errors);
    await shot(page, "run-failed");
  });

  it("follows a running run's output and stops when it ends", async () => {
    // a run of its own (removed at the end), kept running through the API
    const send = async (method: string, path: string, body?: unknown, raw?: string) => {
      const response = await fetch(`${baseURL()}/api/v1${path}`, {
        method,
        headers: { "Content-Type": raw !== undefined ? "application/octet-stream" : "application/json" },
        body: raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return response.status === 204 ? null : response.json();
    };
    const run = (await send("POST", "/runs", { project: "fraud", experiment: "previews", name: "e2e-live-run" })) as RunLite;
    try {
      await send("POST", `/runs/${run.id}/artifacts?path=dockyard/output.log`, undefined, "epoch 1 loss 0.9\n");
      const { page, errors } = await open(`/runs/${run.id}?tab=logs`);
      await page.getByTestId("logs-live").waitFor();
      expect(await page.getByTestId("log-text").textContent()).toContain("epoch 1 loss 0.9");
      await send("POST", `/runs/${run.id}/artifacts?path=dockyard/output.log`, undefined, "epoch 1 loss 0.9\nepoch 2 loss 0.5\n");
      await send("POST", `/runs/${run.id}/heartbeat`);
      await page.getByTestId("log-text").filter({ hasText: "epoch 2 loss 0.5" }).waitFor({ timeout: 15_000 });
      await shot(page, "run-logs-live");
      await send("PATCH", `/runs/${run.id}`, { status: "finished" });
      await page.locator(".page-header .status", { hasText: "finished" }).waitFor({ timeout: 15_000 });
      expect(await page.getByTestId("logs-live").count()).toBe(0);
      await expectNoErrors(page, errors);
    } finally {
      // deleted, not purged: purging is administration, refused by this open server
      await send("DELETE", `/runs/${run.id}`);
    }
  });

  it("says so for an unknown run id", async () => {
    const { page } = await open("/runs/no-such-run-id");
    const error = page.getByTestId("error");
    await error.waitFor();
    expect(await error.textContent()).toContain("no run with id 'no-such-run-id'");
    await shot(page, "run-unknown");
  });
});
