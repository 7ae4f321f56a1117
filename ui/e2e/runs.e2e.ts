// The runs table on the seeded project `scale` (100k runs, or fewer while seeding is smaller):
// server-side sort, filter and paging, the URL as the view, selection, and its timings.
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { fieldOf } from "../src/pages/runsTable";
import { api, baseURL, expectNoErrors, open, poll, record, seed, shot } from "./support";

interface ApiRun {
  id: string;
  name: string;
  status: string;
  params?: Record<string, string>;
  metrics?: Record<string, { last: number }>;
}
interface ApiPage {
  items: ApiRun[];
  total?: number | null;
}

/** The top-level runs of the scope, as the table asks for them. */
const search = (project: string, extra: Record<string, unknown> = {}) =>
  api<ApiPage>("/runs/search", {
    projects: project ? [project] : [],
    ...extra,
    query: extra.query ? `(${extra.query}) AND parent_id IS NULL` : "parent_id IS NULL",
  });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

let project = "";
let total = 0;
let first: ApiRun;

beforeAll(async () => {
  const projects = await api<{ items: { name: string }[] }>("/projects?limit=1000");
  project = projects.items.some((p) => p.name === "scale") ? "scale" : "";
  const page = await search(project, { limit: 1, count: true, order_by: "start_time DESC" });
  total = page.total ?? 0;
  first = page.items[0];
  expect(total).toBeGreaterThan(0);
});

const runsPath = (query = "") => `/runs${project ? `?project=${project}` : ""}${query ? `${project ? "&" : "?"}${query}` : ""}`;

/** The table with its first row loaded. */
async function waitForTable(page: Page): Promise<void> {
  await page.locator('[data-testid=run-row][data-index="0"][data-loaded=true]').waitFor();
}

/** The table loaded and the page's other requests (count, keys) answered: what a user sees
 * before they click, so that a timing measures the click alone. */
async function settled(page: Page): Promise<void> {
  await waitForTable(page);
  await page.waitForLoadState("networkidle");
}

/** Runs `act` in the page and resolves with the ms until the table shows a new search with
 * its first row, checked once per frame. */
function timeNewSearch(page: Page, act: string, arg: string): Promise<number> {
  return page.evaluate(
    async ({ act, arg }) => {
      const body = () => document.querySelector<HTMLElement>("[data-testid=runs-body]");
      const before = body()?.dataset.search;
      const started = performance.now();
      if (act === "click") document.querySelector<HTMLElement>(`[data-testid=col-header][data-field="${arg}"]`)?.click();
      else document.querySelector<HTMLFormElement>("[data-testid=runs-filter-form]")?.requestSubmit();
      await new Promise<void>((done) => {
        const check = () => {
          const b = body();
          const row = b?.querySelector('[data-testid=run-row][data-index="0"]');
          if (b && b.dataset.search !== before && row?.getAttribute("data-loaded") === "true") done();
          else requestAnimationFrame(check);
        };
        check();
      });
      return performance.now() - started;
    },
    { act, arg },
  );
}

describe("the runs table", () => {
  it("shows the first rows fast and the count of every run", async () => {
    const { page, errors } = await open("about:blank");
    await page.addInitScript(() => {
      const w = window as unknown as { __firstRows?: number };
      const check = () => {
        if (document.querySelector("[data-testid=run-row][data-loaded=true]")) w.__firstRows = performance.now();
        else requestAnimationFrame(check);
      };
      requestAnimationFrame(check);
    });
    await page.goto(runsPath());
    await page.waitForFunction(() => (window as unknown as { __firstRows?: number }).__firstRows !== undefined);
    record("runs.first_rows_ms", await page.evaluate(() => (window as unknown as { __firstRows: number }).__firstRows));

    await poll(() => page.getByTestId("runs-total").textContent()).toBe(`${total.toLocaleString("en-US")} run${total === 1 ? "" : "s"}`);
    expect(await page.locator("[data-testid=run-row][data-index='0']").getAttribute("data-run-id")).toBe(first.id);
    // virtual: the scroll height stands for every run, only the rows in view are in the DOM
    const body = await page.getByTestId("runs-body").evaluate((el) => el.getBoundingClientRect().height);
    expect(body).toBe(total * 32);
    expect(await page.getByTestId("run-row").count()).toBeLessThan(80);
    await expectNoErrors(page, errors);
    await shot(page, "runs-table");
  });

  it("sorts on the server by a clicked column, both ways", async () => {
    const { page, errors } = await open(runsPath());
    await settled(page);
    const fields = await page.getByTestId("col-header").evaluateAll((els) => els.map((el) => el.getAttribute("data-field") ?? ""));
    const keyed = fields.filter((f) => f.startsWith("metrics.") || f.startsWith("params."));
    const picked = [...keyed, "duration", "name"].slice(0, 3);
    const times: number[] = [];
    for (const field of picked) times.push(await timeNewSearch(page, "click", field));
    record("runs.sort_ms", median(times));

    const metric = keyed.find((f) => f.startsWith("metrics.")) ?? "duration";
    await page.locator(`[data-testid=col-header][data-field="${metric}"]`).click(); // -> DESC (fresh column)
    await poll(() => new URL(page.url()).searchParams.get("order")).toBe(`${metric} DESC`);
    await waitForTable(page);
    await poll(async () => page.locator("[data-testid=run-row][data-index='0']").getAttribute("data-run-id")).toBe(
      (await search(project, { limit: 1, order_by: `${metric} DESC` })).items[0].id,
    );
    await page.locator(`[data-testid=col-header][data-field="${metric}"]`).click(); // -> ASC
    await poll(() => new URL(page.url()).searchParams.get("order")).toBe(`${metric} ASC`);
    const ascending = (await search(project, { limit: 1, order_by: `${metric} ASC` })).items[0].id;
    await poll(async () => page.locator("[data-testid=run-row][data-index='0'][data-loaded=true]").getAttribute("data-run-id")).toBe(ascending);
    expect(await page.locator(`[data-field="${metric}"]`).textContent()).toContain("▲");
    await expectNoErrors(page, errors);
    await shot(page, "runs-sorted");
  });

  it("filters with the search language, and the URL keeps the view", async () => {
    const { page, errors } = await open(runsPath());
    await settled(page);
    const [param, value] = Object.entries(first.params ?? {})[0] ?? ["", ""];
    const [metric, summary] = Object.entries(first.metrics ?? {})[0] ?? ["", { last: 0 }];
    const filters = ["status = 'failed'"];
    if (param) filters.push(`${fieldOf({ kind: "params", key: param })} = '${value}'`);
    if (metric) filters.push(`${fieldOf({ kind: "metrics", key: metric })} >= ${summary.last}`);
    const times: number[] = [];
    for (const filter of filters) {
      await page.getByTestId("runs-filter").fill(filter);
      times.push(await timeNewSearch(page, "submit", filter));
    }
    record("runs.filter_ms", median(times));
    record("runs.filter_slowest_ms", Math.max(...times)); // the metric filter costs the server most

    const last = filters[filters.length - 1];
    expect(new URL(page.url()).searchParams.get("q")).toBe(last);
    const expected = (await search(project, { query: last, limit: 1, count: true })).total ?? 0;
    await poll(() => page.getByTestId("runs-total").textContent()).toBe(`${expected.toLocaleString("en-US")} run${expected === 1 ? "" : "s"}`);

    // the URL is the view: opened anew, it shows the same search
    const { page: again } = await open(page.url().replace(baseURL(), ""));
    await waitForTable(again);
    expect(await again.getByTestId("runs-filter").inputValue()).toBe(last);
    expect(await again.getByTestId("runs-body").getAttribute("data-query")).toBe(last);
    await expectNoErrors(page, errors);
    await shot(page, "runs-filtered");
  });

  it("jumps to the middle of the runs and fills the rows there", async () => {
    const { page, errors } = await open(runsPath());
    await settled(page);
    await poll(() => page.getByTestId("runs-total").textContent()).toContain(total.toLocaleString("en-US"));
    const times: number[] = [];
    // near the middle, a quarter and three quarters down (not exactly: those are page edges)
    for (const fraction of [0.5037, 0.2513, 0.7461]) {
      times.push(
        await page.evaluate(async (fraction) => {
          const scroller = document.querySelector<HTMLElement>("[data-testid=runs-table]") as HTMLElement;
          const body = document.querySelector<HTMLElement>("[data-testid=runs-body]") as HTMLElement;
          const started = performance.now();
          scroller.scrollTop = Math.floor(body.offsetHeight * fraction);
          const view = scroller.getBoundingClientRect();
          await new Promise<void>((done) => {
            const check = () => {
              const rows = [...document.querySelectorAll<HTMLElement>("[data-testid=run-row]")].filter((row) => {
                const box = row.getBoundingClientRect();
                return box.bottom > view.top + 34 && box.top < view.bottom;
              });
              const filled = rows.length > 5 && rows.every((row) => row.dataset.loaded === "true");
              const there = rows.some((row) => Math.abs(Number(row.dataset.index) * 32 - scroller.scrollTop) < 64);
              if (filled && there) done();
              else requestAnimationFrame(check);
            };
            check();
          });
          return performance.now() - started;
        }, fraction),
      );
    }
    record("runs.scroll_jump_ms", median(times));

    // the row in view is the run at that offset of the search
    const row = page.locator("[data-testid=run-row][data-loaded=true]").nth(3);
    const index = Number(await row.getAttribute("data-index"));
    const expected = await search(project, { limit: 1, offset: index, order_by: "start_time DESC" });
    expect(await row.getAttribute("data-run-id")).toBe(expected.items[0].id);
    await expectNoErrors(page, errors);
    await shot(page, "runs-middle");
  });

  it("an invalid query shows the message and a caret, and keeps the last results", async () => {
    const { page } = await open(runsPath());
    await waitForTable(page);
    const shownBefore = await page.getByTestId("runs-body").getAttribute("data-search");
    const bad = "status = 'failed' AND metrics.x >> 1";
    const position = bad.indexOf(">>");
    await page.getByTestId("runs-filter").fill(bad);
    await page.getByTestId("runs-filter").press("Enter");
    const error = page.getByTestId("query-error");
    await error.waitFor();
    expect(await error.textContent()).toContain(`at position ${position}`);
    const caret = (await page.getByTestId("query-caret").textContent()) ?? "";
    expect(caret.split("\n")).toEqual([bad, `${" ".repeat(position)}^`]);
    expect(await page.getByTestId("runs-body").getAttribute("data-search")).toBe(shownBefore);
    expect(await page.locator("[data-testid=run-row][data-loaded=true]").count()).toBeGreaterThan(5);
    await shot(page, "runs-invalid-query");

    await page.getByTestId("runs-filter").fill("");
    await page.getByTestId("runs-filter").press("Enter");
    await error.waitFor({ state: "detached" });
  });

  it("a search that matches only child runs says how many are hidden, and shows them", async () => {
    const { demo } = seed();
    const { page, errors } = await open(`/runs?project=${demo.project}&q=${encodeURIComponent("name = 'featurize'")}`);
    const hidden = page.getByTestId("runs-hidden-children");
    await hidden.waitFor();
    expect(await page.getByTestId("runs-empty").textContent()).toContain("No top-level runs match this search.");
    expect(await hidden.textContent()).toMatch(/\d+ child runs? \(pipeline steps, nested runs\) match/);
    await shot(page, "runs-hidden-children");
    await hidden.getByRole("button", { name: "Show child runs" }).click();
    await waitForTable(page);
    expect(new URL(page.url()).searchParams.get("children")).toBe("1");
    expect(await page.locator('[data-testid=run-row][data-index="0"]').textContent()).toContain("featurize");
    await expectNoErrors(page, errors);
  });

  it("a search that fails at once does not leave the count spinning", async () => {
    const { page } = await open(`/runs?q=${encodeURIComponent("metrics.x >> 1")}`);
    await page.getByTestId("query-error").waitFor();
    await poll(() => page.getByTestId("runs-total").textContent()).toBe("not counted: the search failed");
  });

  it("chooses columns from the scope's keys, with a search, kept in the URL", async () => {
    const keys = await api<{ params: string[]; metrics: string[]; tags: string[] }>(`/runs/keys${project ? `?projects=${project}` : ""}`);
    const { page, errors } = await open(runsPath());
    await waitForTable(page);
    await page.getByTestId("columns-button").click();
    const key = keys.tags[0] ?? keys.params[keys.params.length - 1];
    const kind = keys.tags[0] ? "tags" : "params";
    await page.getByTestId("column-search").fill(key);
    const options = page.getByTestId("column-option");
    await poll(() => options.count()).toBeGreaterThan(0);
    expect(await options.count()).toBeLessThan(keys.params.length + keys.metrics.length + keys.tags.length);
    await shot(page, "runs-column-chooser");
    await page.locator(`[data-testid=column-option][data-column="${kind}.${key}"]`).click();
    const field = fieldOf({ kind, key });
    await page.locator(`[data-testid=col-header][data-field="${field}"]`).waitFor();
    expect(new URL(page.url()).searchParams.get("cols")).toContain(`${kind}.${key}`);
    const value = await page.locator("[data-testid=run-row][data-index='0']").textContent();
    const run = first as ApiRun & { tags?: Record<string, string> };
    const expected = kind === "tags" ? run.tags?.[key] : run.params?.[key];
    if (expected) expect(value).toContain(expected);
    await expectNoErrors(page, errors);
  });

  it("selects runs (shift-click for a range) and compares them", async () => {
    const { page, errors } = await open(runsPath());
    await waitForTable(page);
    const boxes = page.locator("[data-testid=run-row][data-loaded=true] input[type=checkbox]");
    await boxes.nth(0).click();
    await boxes.nth(3).click({ modifiers: ["Shift"] });
    await poll(() => page.getByTestId("compare-button").textContent()).toBe("Compare (4)");
    const ids = await page
      .locator("[data-testid=run-row]")
      .evaluateAll((rows) => rows.filter((r) => Number(r.getAttribute("data-index")) < 4).map((r) => r.getAttribute("data-run-id")));
    await shot(page, "runs-selected");
    await page.getByTestId("compare-button").click();
    await page.waitForURL(/\/compare\?runs=/);
    expect(new URL(page.url()).searchParams.get("runs")?.split(",").sort()).toEqual([...ids].sort());
    await expectNoErrors(page, errors);
  });

  it("scopes to a project's experiment", async () => {
    const { page, errors } = await open(runsPath());
    await waitForTable(page);
    const options = await page.getByTestId("experiment-picker").locator("option").allTextContents();
    if (!project || options.length < 2) return; // nothing to pick
    const experiment = options[1];
    await page.getByTestId("experiment-picker").selectOption(experiment);
    await poll(() => new URL(page.url()).searchParams.get("experiment")).toBe(experiment);
    const expected = (await api<ApiPage>("/runs/search", { projects: [project], experiments: [experiment], query: "parent_id IS NULL", limit: 1, count: true })).total ?? 0;
    await poll(() => page.getByTestId("runs-total").textContent()).toBe(`${expected.toLocaleString("en-US")} run${expected === 1 ? "" : "s"}`);
    await expectNoErrors(page, errors);
  });
});
