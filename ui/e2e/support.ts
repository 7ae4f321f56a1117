// What every end-to-end test uses: a page in the shared Chromium, screenshots, timings.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, expect, inject } from "vitest";

/** What e2e/seed.py printed: ids of the runs, models and pipeline runs it made. */
export interface Seed {
  home: string;
  runs: number;
  /** a run in `fraud` with an artifact of every previewable kind, a model and system metrics */
  preview_run: string;
  preview_artifacts: string[];
  long_metric: { run: string; key: string; points: number };
  failed_run: string;
  /** a run started in a git checkout with an edited and an untracked file */
  code_run: string;
  /** a pipeline run whose fan-out failed on two items */
  failed_pipeline_run: string;
  ui_sample: { dataset: string; versions: number; model: string };
  /** the feature view over fraud/transactions: two versions, materialized, events pushed, a training set */
  features: {
    project: string;
    view: string;
    versions: number;
    source: string;
    materialized_events: number;
    materialized_version: number;
    pushed_events: number;
    /** a card with events online */
    card: string;
    /** "fraud/card_labels@1" */
    labels: string;
    training_set: string;
    training_set_version: number;
  };
  demo: {
    project: string;
    dataset: string;
    dataset_version: number;
    model: string;
    alias: string;
    champion_version: number;
    pipeline_run: string;
    runs: number;
  };
  scale: { project: string; runs: number; experiments: string[]; metrics: string[]; steps: number };
  /** ui-serving-model: v1 then v2 served behind @champion by a server that stopped; its log */
  serving: {
    model: string;
    alias: string;
    versions: number[];
    predictions: number;
    by_version: Record<string, number>;
    /** one of the last predictions, answered by v2 */
    prediction: string;
    /** the run that made v2 (in a git checkout with an uncommitted change) */
    run: string;
    dataset: string;
    dataset_version: number;
    /** what the live model server of the session serves, and the rows sent to each */
    live_uris: string[];
    example_inputs: Record<string, unknown>[];
  };
  /** ui-monitored-model (project retail): five past hourly windows (v1, v1, v2, v2 shifted, v2)
   * of its monitor `default`, labels for some, one drift alert (webhook failed, freeze done) */
  monitoring: {
    model: string;
    project: string;
    monitor: string;
    metric: string;
    minimum: number;
    versions: number[];
    /** oldest first; ISO times */
    windows: { version: number; start: string; end: string }[];
    shifted: { version: number; start: string; column: string };
    columns: string[];
    /** per window, as `windows` */
    performance: { labelled: number; coverage: number; realised: number | null; estimated: number | null }[];
    alerts: { rule: string; window_start: string; actions: [string, string][] }[];
    webhook: string;
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    baseURL: string;
    wsEndpoint: string;
    seed: Seed;
    /** the URL of the live `dockyard serve` the setup started */
    modelServer: string;
  }
}

const here = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = resolve(here, "screenshots");
export const RESULTS = resolve(here, "results");

export const baseURL = (): string => inject("baseURL");
export const seed = (): Seed => inject("seed");

let browser: Browser | undefined;

/** A fresh page (1440x900) at `path` (of the server under test, or of `base`); uncaught page
 * errors fail the test that checks `errors`; `warnings` collects what the page logs as a
 * warning (e.g. the router's). */
export async function open(path: string, base?: string): Promise<{ page: Page; errors: string[]; warnings: string[] }> {
  browser ??= await chromium.connect(inject("wsEndpoint"));
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, baseURL: base ?? baseURL() });
  const page = await context.newPage();
  const errors: string[] = [];
  const warnings: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "warning") warnings.push(message.text());
  });
  await page.goto(path);
  return { page, errors, warnings };
}

afterAll(async () => {
  await browser?.close();
  browser = undefined;
});

/** Signs in with a password on the page's sign-in panel (shown while the server asks for a
 * credential) as `user`, and waits until the top bar names them. */
export async function signIn(page: Page, user: string, password: string): Promise<void> {
  const form = page.locator("[data-testid=login-form]").first();
  await form.waitFor();
  await form.getByLabel("user", { exact: true }).fill(user);
  await form.getByLabel("password", { exact: true }).fill(password);
  await form.getByRole("button", { name: "Sign in" }).click();
  await page.locator("[data-testid=account]", { hasText: user }).waitFor();
}

/** Saves e2e/screenshots/<name>.png (the whole page) for a reviewer to look at. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0)); // else the sticky top bar lands mid-picture
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The page shows no error box and threw nothing. */
export async function expectNoErrors(page: Page, errors: string[]): Promise<void> {
  expect(errors).toEqual([]);
  expect(await page.locator("[data-testid=error]").count()).toBe(0);
}

/** The REST API of the server under test: GET `path`, or POST `body` as JSON. */
export async function api<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${baseURL()}/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** expect.poll with room for a busy server (a count over 100k runs, a machine under load). */
export const poll = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 20_000 });

/** Records a timing (ms) under e2e/results/timings.json for benchmarks/RESULTS.md. */
export function record(name: string, ms: number): void {
  mkdirSync(RESULTS, { recursive: true });
  const file = resolve(RESULTS, "timings.json");
  const all: Record<string, number> = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  all[name] = Math.round(ms * 10) / 10;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  console.log(`timing ${name}: ${all[name]} ms`);
}
