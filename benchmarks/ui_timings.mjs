// The browser side of benchmarks/ui.py: times the runs page of dockyard's web UI and of
// MLflow's in headless Chromium, with playwright-core from ui/node_modules.
//
//   node benchmarks/ui_timings.mjs CONFIG.json
//
// CONFIG: {"tools": [{"tool": "dockyard" | "mlflow", "url": "http://127.0.0.1:PORT/..."}],
//          "repeat": 3, "timeoutMs": 900000, "budgetMs": 300000, "shots": "DIR",
//          "filter": "metrics.accuracy > 0.9", "metric": "accuracy", "only": [MEASUREMENT, ...]}
// Progress goes to stderr; the last line on stdout is the JSON result:
// {"tools": {TOOL: {MEASUREMENT: {"times": [ms | null], "requests": [ms], "notes": [...],
//  "load": [1-min load average after each]}}}, "pageSize": {TOOL: [...]}, "chromium": "..."}
//
// After one untimed visit of each runs page, every measurement is a new browser context
// (empty cache, no stored UI state) at the runs page. An interaction is timed from the
// timestamp of the trusted input event (the click or the Enter key that Playwright sends) to
// the animation frame in which the table shows the new rows; "first rows" from the
// navigation's start to the frame showing the first run row.
// Repetitions go round-robin over the tools; a measurement is not repeated once its times
// add up to the budget (MLflow's metric sort takes minutes on 100k runs, so it is also left
// until everything else is measured).
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(resolve(here, "../ui/package.json"));
const { chromium } = require("playwright-core");

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const say = (line) => process.stderr.write(`  ${line}\n`);

/** What each UI shows and how a measurement knows it is done. The page-side checks run in the
 * browser (no closures): they read `window.__bench` ({before, t0, done}). */
const TOOLS = {
  dockyard: {
    firstRow: "[data-testid=run-row][data-loaded=true]",
    api: /\/api\/v1\//,
    search: /\/api\/v1\/runs\/search$/,
    measurements: ["first_rows", "sort", "filter", "scroll_jump"],
    /** the visible state a new search must replace: the table's search key */
    snapshot: () => document.querySelector("[data-testid=runs-body]")?.dataset.search ?? null,
    changed: (before) => {
      const body = document.querySelector("[data-testid=runs-body]");
      const row = body?.querySelector('[data-testid=run-row][data-index="0"]');
      return !!body && body.dataset.search !== before && row?.getAttribute("data-loaded") === "true";
    },
    firstName: () => document.querySelector('[data-testid=run-row][data-index="0"] a')?.textContent ?? "",
    total: () => document.querySelector("[data-testid=runs-total]")?.textContent ?? "",
    async prepareSort() {},
    header: (metric) => `[data-testid=col-header][data-field="metrics.${metric}"]`,
    filterInput: "[data-testid=runs-filter]",
  },
  mlflow: {
    firstRow: '.ag-center-cols-container [row-index="0"][row-id]',
    api: /\/ajax-api\//,
    search: /\/ajax-api\/2\.0\/mlflow\/runs\/search$/,
    measurements: ["first_rows", "filter", "load_more", "sort"],
    // its metric sort runs for minutes on 100k runs, and the server goes on with the query
    // after a timeout: measured after every other measurement of every tool
    deferred: ["sort"],
    snapshot: () => document.querySelector('.ag-center-cols-container [row-index="0"]')?.getAttribute("row-id") ?? null,
    changed: (before) => {
      const id = document.querySelector('.ag-center-cols-container [row-index="0"]')?.getAttribute("row-id");
      return !!id && id !== before;
    },
    firstName: () => document.querySelector('.ag-pinned-left-cols-container [row-index="0"] a, .ag-center-cols-container [row-index="0"] a')?.textContent ?? "",
    total: () => [...document.querySelectorAll("span")].find((s) => /matching runs$/.test(s.textContent ?? ""))?.textContent ?? "",
    /** Metric columns are hidden by default: close the assistant panel (room for the column),
     * then tick the metric in "Columns", as a user would before clicking its header. */
    async prepareSort(page, metric) {
      const close = page.getByRole("button", { name: "Close", exact: true });
      if (await close.count()) await close.first().click();
      await page.getByTestId("column-selection-dropdown").first().click();
      await page.getByText(metric, { exact: true }).first().click();
      await page.keyboard.press("Escape");
      await page.getByTestId(`sort-header-${metric}`).waitFor({ timeout: 30_000 });
    },
    header: (metric) => `[data-testid="sort-header-${metric}"]`,
    filterInput: 'input[data-testid="search-box"]',
  },
};

/** Tracks the API requests of a page: how many are in flight, and each runs/search request's
 * start, end and body. */
function watchRequests(page, spec) {
  const state = { inflight: 0, lastChange: Date.now(), searches: [] };
  const open = new Map();
  page.on("request", (request) => {
    if (!spec.api.test(request.url())) return;
    state.inflight += 1;
    state.lastChange = Date.now();
    const entry = { start: Date.now(), end: null, body: request.postData() ?? "" };
    open.set(request, entry);
    if (spec.search.test(request.url())) state.searches.push(entry);
  });
  const finish = (request) => {
    const entry = open.get(request);
    if (!entry) return;
    open.delete(request);
    entry.end = Date.now();
    state.inflight -= 1;
    state.lastChange = Date.now();
  };
  page.on("requestfinished", finish);
  page.on("requestfailed", finish);
  return state;
}

/** The first rows are shown and no API request has been in flight for half a second. */
async function settle(page, spec, requests) {
  await page.locator(spec.firstRow).first().waitFor({ timeout: config.timeoutMs });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (requests.inflight > 0 || Date.now() - requests.lastChange < 500)) {
    await page.waitForTimeout(100);
  }
}

async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  return { context, page };
}

/** Arms the page: remembers the table's state, stamps the first trusted `event` (click or
 * Enter) as t0, then checks once per frame for `changed(before)`. */
async function arm(page, spec, event) {
  // one expression evaluated through the DevTools protocol (not `new Function` in the page,
  // which a Content-Security-Policy may forbid)
  const armIn = (snapshot, changed, event) => {
    const bench = { before: snapshot(), t0: null, done: null };
    window.__bench = bench;
    const stamp = (e) => {
      if (bench.t0 !== null || !e.isTrusted) return;
      if (event === "keydown" && e.key !== "Enter") return;
      bench.t0 = e.timeStamp;
    };
    document.addEventListener(event, stamp, { capture: true });
    const check = () => {
      if (bench.t0 !== null && changed(bench.before)) bench.done = performance.now();
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  };
  await page.evaluate(`(${armIn})(${spec.snapshot}, ${spec.changed}, ${JSON.stringify(event)})`);
}

/** ms from t0 to done, or null past the timeout. */
async function finished(page) {
  try {
    await page.waitForFunction(() => window.__bench.done !== null, null, { timeout: config.timeoutMs, polling: 100 });
  } catch (error) {
    if (error.name === "TimeoutError") return null;
    throw error;
  }
  return await page.evaluate(() => window.__bench.done - window.__bench.t0);
}

/** The duration of the first runs/search request that started at or after `since` (the
 * table's page, not a count). */
function searchMs(requests, since) {
  const hit = requests.searches.find((s) => s.start >= since && s.end !== null && !s.body.includes('"count":true'));
  return hit ? hit.end - hit.start : null;
}

async function notes(page, spec) {
  return {
    first: (await page.evaluate(`(${spec.firstName})()`)).trim(),
    total: (await page.evaluate(`(${spec.total})()`)).trim(),
  };
}

async function measure(browser, tool, url, name, rep, result) {
  const spec = TOOLS[tool];
  const { context, page } = await newPage(browser);
  const requests = watchRequests(page, spec);
  let ms = null;
  let note = {};
  let request = null;
  try {
    if (name === "first_rows") {
      await page.addInitScript((selector) => {
        const check = () => {
          if (document.querySelector(selector)) window.__firstRows = performance.now();
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }, spec.firstRow);
      await page.goto(url);
      try {
        await page.waitForFunction(() => window.__firstRows !== undefined, null, { timeout: config.timeoutMs, polling: 100 });
        ms = await page.evaluate(() => window.__firstRows);
      } catch (error) {
        if (error.name !== "TimeoutError") throw error;
      }
      request = searchMs(requests, 0);
      // what the page asked for: the size of each runs/search page
      if (rep >= 0) result.pageSize[tool] ??= requests.searches.map((s) => {
        const body = JSON.parse(s.body || "{}");
        return body.limit ?? body.max_results ?? null;
      });
      await settle(page, spec, requests);
      note = await notes(page, spec);
    } else {
      await page.goto(url);
      await settle(page, spec, requests);
      if (name === "sort") {
        await spec.prepareSort(page, config.metric);
        await settle(page, spec, requests);
        await arm(page, spec, "click");
        const since = Date.now();
        await page.locator(spec.header(config.metric)).click();
        ms = await finished(page);
        request = searchMs(requests, since);
      } else if (name === "filter") {
        await page.locator(spec.filterInput).fill(config.filter);
        await arm(page, spec, "keydown");
        const since = Date.now();
        await page.locator(spec.filterInput).press("Enter");
        ms = await finished(page);
        request = searchMs(requests, since);
      } else if (name === "load_more") {
        const button = page.getByRole("button", { name: "Load more" }).first();
        await button.scrollIntoViewIfNeeded();
        await page.evaluate(() => {
          const bench = { t0: null, done: null };
          window.__bench = bench;
          document.addEventListener("click", (e) => { if (bench.t0 === null && e.isTrusted) bench.t0 = e.timeStamp; }, { capture: true });
          const check = () => {
            if (bench.t0 !== null && document.querySelector('.ag-center-cols-container [row-index="100"]')) bench.done = performance.now();
            else requestAnimationFrame(check);
          };
          requestAnimationFrame(check);
        });
        const since = Date.now();
        await button.click();
        ms = await finished(page);
        request = searchMs(requests, since);
      } else if (name === "scroll_jump") {
        // near the middle, a quarter and three quarters down (not exactly: page edges), as
        // ui/e2e/runs.e2e.ts does; one jump per fresh page, the fraction cycling with `rep`
        const fraction = [0.5037, 0.2513, 0.7461][rep % 3];
        const since = Date.now();
        ms = await page.evaluate(
          async ({ fraction, timeoutMs }) => {
            const scroller = document.querySelector("[data-testid=runs-table]");
            const body = document.querySelector("[data-testid=runs-body]");
            const started = performance.now();
            scroller.scrollTop = Math.floor(body.offsetHeight * fraction);
            const view = scroller.getBoundingClientRect();
            return await new Promise((done) => {
              const check = () => {
                const rows = [...document.querySelectorAll("[data-testid=run-row]")].filter((row) => {
                  const box = row.getBoundingClientRect();
                  return box.bottom > view.top + 34 && box.top < view.bottom;
                });
                const filled = rows.length > 5 && rows.every((row) => row.dataset.loaded === "true");
                const there = rows.some((row) => Math.abs(Number(row.dataset.index) * 32 - scroller.scrollTop) < 64);
                if (filled && there) done(performance.now() - started);
                else if (performance.now() - started > timeoutMs) done(null);
                else requestAnimationFrame(check);
              };
              check();
            });
          },
          { fraction, timeoutMs: config.timeoutMs },
        );
        request = searchMs(requests, since);
      }
      if (ms !== null) note = await notes(page, spec);
    }
    if (rep === 0 && config.shots) {
      mkdirSync(config.shots, { recursive: true });
      await page.screenshot({ path: resolve(config.shots, `${tool}-${name}.png`) });
    }
  } finally {
    await context.close();
  }
  if (rep < 0) {
    say(`${tool} warm-up: first rows in ${ms === null ? "-" : ms.toFixed(0)} ms (not counted)`);
    return;
  }
  const row = (result.tools[tool][name] ??= { times: [], requests: [], notes: [], load: [] });
  row.times.push(ms);
  row.requests.push(request);
  row.notes.push(note);
  row.load.push(loadavg()[0]);
  const shown = ms === null ? `over ${config.timeoutMs / 1000} s` : `${ms.toFixed(0)} ms`;
  say(`${tool} ${name} #${rep + 1}: ${shown} (runs/search request ${request ?? "-"} ms; first row ${note.first ?? "?"}; ${note.total ?? ""})`);
}

const browser = await chromium.launch({
  executablePath: config.chromium ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const result = { tools: {}, pageSize: {}, chromium: browser.version() };
try {
  // one untimed visit per tool first: the servers' first answers (cold caches, lazy imports)
  // are not the UI's
  for (const { tool, url } of config.tools) {
    result.tools[tool] = {};
    await measure(browser, tool, url, "first_rows", -1, result);
  }
  for (const late of [false, true]) {
    for (let rep = 0; rep < config.repeat; rep++) {
      for (const { tool, url } of config.tools) {
        for (const name of TOOLS[tool].measurements) {
          if (config.only && !config.only.includes(name)) continue;
          if ((TOOLS[tool].deferred ?? []).includes(name) !== late) continue;
          const done = result.tools[tool][name]?.times ?? [];
          const spent = done.reduce((sum, t) => sum + (t ?? config.timeoutMs), 0);
          if (done.length > 0 && spent >= config.budgetMs) continue; // measured enough
          await measure(browser, tool, url, name, rep, result);
        }
      }
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
