// The run page (/runs/:runId): every tab on the seeded runs, every artifact preview kind,
// and an unknown id.
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { baseURL, expectNoErrors, open, record, seed, shot } from "./support";

interface RunLite {
  id: string;
  name: string;
  status: string;
  parent_id: string | null;
}

async function api<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseURL()}/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const search = async (query: string, projects: string[] = []) =>
  (await api<{ items: RunLite[] }>("/runs/search", { query, projects, limit: 20, order_by: "start_time DESC" })).items;

const str = (value: unknown): string | null => (typeof value === "string" && value ? value : null);

const ids = {
  pipeline: "",
  train: "",
  artifacts: "",
  failed: "",
  evaluate: "",
};
let tableEndpoint = true;

beforeAll(async () => {
  const s = seed();
  const project = str(s.project) ?? "fraud";
  ids.pipeline = str(s.pipeline_run) ?? "";
  ids.train = str(s.train_run) ?? "";
  if (!ids.train && ids.pipeline) ids.train = (await search(`parent_id = '${ids.pipeline}' AND name = 'train'`))[0]?.id ?? "";
  // the run with every artifact kind: the seed's, or (before the seed makes one) any run with a Parquet file
  const candidates = [str(s.artifacts_run), ...(await search("name = 'run-page-artifacts'", [project])).map((r) => r.id)].filter(Boolean) as string[];
  for (const id of candidates) {
    const files = await api<{ path: string }[]>(`/runs/${id}/artifacts`);
    if (files.some((f) => f.path.endsWith(".parquet")) && files.some((f) => f.path.endsWith(".png"))) {
      ids.artifacts = id;
      break;
    }
  }
  ids.failed = str(s.failed_run) ?? (await search("status = 'failed'", [project]))[0]?.id ?? "";
  ids.evaluate = ids.pipeline ? ((await search(`parent_id = '${ids.pipeline}' AND name = 'evaluate'`))[0]?.id ?? "") : "";
  if (ids.artifacts) {
    const probe = await fetch(`${baseURL()}/api/v1/runs/${ids.artifacts}/artifacts/table?path=sample.csv&limit=1`);
    tableEndpoint = probe.ok || !(await probe.text()).includes("no API route");
  }
  console.log("run page ids", ids, "table endpoint:", tableEndpoint);
});

async function tab(page: Page, name: RegExp): Promise<void> {
  await page.getByRole("tab", { name }).click();
}

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

  it("lists a pipeline run's steps and shows its code and diff", async () => {
    const { page, errors } = await open(`/runs/${ids.pipeline}?tab=code`);
    await page.getByTestId("run-children").waitFor();
    const steps = await page.getByTestId("run-children").textContent();
    for (const step of ["featurize", "train", "evaluate"]) expect(steps).toContain(step);
    await page.getByTestId("git-commit").waitFor();
    expect(await page.getByTestId("git-commit").textContent()).toMatch(/^[0-9a-f]{40}$/);
    await page.getByTestId("diff").waitFor();
    expect(await page.getByTestId("diff-file").count()).toBeGreaterThan(0);
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
    if (!ids.artifacts) throw new Error("no run with Parquet and PNG artifacts: the seed (artifacts_run) must make one");
  };

  it("charts metrics, downsampled, with smoothing and x axis in the URL", async () => {
    need();
    const started = performance.now();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=metrics`);
    await page.getByTestId("metrics-tab").waitFor();
    const long = page.locator("[data-testid=metric-chart]").filter({ has: page.locator("[data-testid=chart-points]", { hasText: "of 20,000" }) }).first();
    await long.waitFor({ timeout: 30_000 });
    record("run page: 20,000-point chart drawn", performance.now() - started);
    expect(await page.locator("[data-testid=metric-chart]").count()).toBeGreaterThanOrEqual(3);
    // no system metric on this tab
    expect(await page.locator("[data-testid=metric-chart][data-metric^='system/']").count()).toBe(0);
    const shown = Number(((await long.getByTestId("chart-points").textContent()) ?? "").replace(/,/g, "").split(" ")[0]);
    expect(shown).toBeGreaterThan(500);
    expect(shown).toBeLessThan(20_000);
    // zooming in fetches the series again, denser
    const box = await long.locator("canvas").first().boundingBox();
    expect(box).not.toBeNull();
    if (box) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 3);
      for (let i = 0; i < 8; i += 1) {
        await page.mouse.wheel(0, -300);
        await page.waitForTimeout(60);
      }
    }
    await page.waitForFunction(
      (el) => {
        const text = el?.querySelector("[data-testid=chart-points]")?.textContent ?? "";
        const n = Number(text.replace(/,/g, "").split(" ")[0]);
        return text.includes("loading") === false && n > 0 && (n >= 2800 || !text.includes(" of "));
      },
      await long.elementHandle(),
      { timeout: 20_000 },
    );
    expect(await long.locator("button", { hasText: "reset zoom" }).count()).toBe(1);
    // URL state
    await page.getByRole("button", { name: "Relative time" }).click();
    await page.getByTestId("metric-filter").fill("loss");
    await page.waitForTimeout(200);
    expect(page.url()).toContain("x=relative");
    expect(page.url()).toContain("q=loss");
    for (const key of await page.locator("[data-testid=metric-chart]").evaluateAll((els) => els.map((e) => e.getAttribute("data-metric") ?? ""))) {
      expect(key).toContain("loss");
    }
    await page.getByTestId("metric-filter").fill("");
    await page.getByRole("button", { name: "Step", exact: true }).click();
    await settle(page);
    await expectNoErrors(page, errors);
    await shot(page, "run-metrics");
  });

  it("charts system metrics against time", async () => {
    need();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=system`);
    await page.getByTestId("system-tab").waitFor();
    const charts = page.locator("[data-testid=metric-chart]");
    await charts.first().getByTestId("chart-points").waitFor();
    const keys = await charts.evaluateAll((els) => els.map((e) => e.getAttribute("data-metric") ?? ""));
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) expect(key.startsWith("system/")).toBe(true);
    expect(await page.getByTestId("system-tab").textContent()).toContain("CPU utilisation");
    await settle(page);
    await expectNoErrors(page, errors);
    await shot(page, "run-system");
  });

  const preview = async (path: string) => {
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=artifacts&path=${encodeURIComponent(path)}`);
    await page.getByTestId("artifact-tree").waitFor();
    return { page, errors };
  };

  it("previews text, and says when it shows only the beginning", async () => {
    need();
    let { page, errors } = await preview("notes.txt");
    await page.getByTestId("preview-text").waitFor();
    expect(await page.getByTestId("preview-text").textContent()).toContain("line 0: the quick brown fox");
    expect(await page.locator(".run-tree-row.selected").getAttribute("data-path")).toBe("notes.txt");
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-text");
    ({ page, errors } = await preview("big.log"));
    await page.getByTestId("truncated").waitFor();
    expect(await page.getByTestId("truncated").textContent()).toMatch(/first 200(\.0)? KiB/);
    await expectNoErrors(page, errors);
  });

  it("pretty-prints JSON", async () => {
    need();
    const { page, errors } = await preview("config.json");
    await page.getByTestId("preview-json").waitFor();
    const text = (await page.getByTestId("preview-json").textContent()) ?? "";
    expect(text).toContain('"depth": 8');
    expect(text.split("\n").length).toBeGreaterThan(5);
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-json");
  });

  it("shows images", async () => {
    need();
    const { page, errors } = await preview("reports/roc.png");
    const img = page.getByTestId("preview-image");
    await img.waitFor();
    await page.waitForFunction((el) => (el as HTMLImageElement | null)?.naturalWidth === 320, await img.elementHandle());
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-image");
  });

  it("shows tables: Parquet, CSV and TSV", async () => {
    need();
    for (const path of ["predictions.parquet", "sample.csv", "sample.tsv"]) {
      const { page, errors } = await preview(path);
      if (!tableEndpoint && path.endsWith(".parquet")) {
        await page.getByTestId("preview-binary").waitFor();
        console.warn("this server has no /artifacts/table endpoint: the Parquet preview is only a download");
        continue;
      }
      await page.getByTestId("preview-table").waitFor();
      const headers = await page.locator("[data-testid=preview-table] thead th").allTextContents();
      expect(headers.join(" ")).toContain("amount");
      expect(headers.join(" ")).toContain("country");
      expect(await page.locator("[data-testid=preview-table] tbody tr").count()).toBeGreaterThan(10);
      expect(await page.getByTestId("table-meta").textContent()).toMatch(/rows/);
      await expectNoErrors(page, errors);
      if (path.endsWith(".parquet")) await shot(page, "run-artifacts-table");
      if (path.endsWith(".csv")) await shot(page, "run-artifacts-csv");
    }
  });

  it("renders HTML in a sandbox", async () => {
    need();
    const { page, errors } = await preview("reports/report.html");
    const frame = page.getByTestId("preview-html");
    await frame.waitFor();
    expect(await frame.getAttribute("sandbox")).toBe("");
    const heading = page.frameLocator("[data-testid=preview-html]").locator("h1");
    expect(await heading.textContent()).toBe("Evaluation report");
    // scripts do not run in the sandbox
    const body = (await page.frameLocator("[data-testid=preview-html]").locator("body").textContent()) ?? "";
    expect(body.match(/script ran/g)?.length ?? 0).toBeLessThanOrEqual(1);
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-html");
  });

  it("offers a download for other files and shows model folders as models", async () => {
    need();
    let { page, errors } = await preview("weights.bin");
    await page.getByTestId("preview-binary").waitFor();
    expect(await page.locator("[data-testid=preview-binary] [data-testid=download]").getAttribute("href")).toBe(
      `/api/v1/runs/${ids.artifacts}/artifacts/content?path=weights.bin`,
    );
    await expectNoErrors(page, errors);
    ({ page, errors } = await preview("model/"));
    await page.getByTestId("model-summary").waitFor();
    const text = await page.getByTestId("model-summary").textContent();
    expect(text).toContain("sklearn");
    expect(text).toContain(`runs:/${ids.artifacts}/model`);
    expect(await page.locator(".run-tree-row[data-path='model/'] .run-badge.model").count()).toBe(1);
    await settle(page);
    await expectNoErrors(page, errors);
    await shot(page, "run-artifacts-model");
  });

  it("selecting a file puts it in the URL", async () => {
    need();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=artifacts`);
    await page.getByTestId("artifact-tree").waitFor();
    await page.locator(".run-tree-row[data-path='config.json']").click();
    await page.getByTestId("preview-json").waitFor();
    expect(new URL(page.url()).searchParams.get("path")).toBe("config.json");
    await expectNoErrors(page, errors);
  });

  it("shows the printed output", async () => {
    need();
    const { page, errors } = await open(`/runs/${ids.artifacts}?tab=logs`);
    await page.getByTestId("log-text").waitFor();
    expect(await page.getByTestId("log-text").textContent()).toContain("starting training");
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
    await expectNoErrors(page, errors);
    await shot(page, "run-failed");
  });

  it("says so for an unknown run id", async () => {
    const { page } = await open("/runs/no-such-run-id");
    const error = page.getByTestId("error");
    await error.waitFor();
    expect(await error.textContent()).toContain("no run with id 'no-such-run-id'");
    await shot(page, "run-unknown");
  });
});
