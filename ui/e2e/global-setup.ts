// Seeds a dockyard home (the demo plus many runs), serves it with a real `dockyard server`,
// starts a live model server (`dockyard serve`) on it and headless Chromium; the tests get
// the URLs through vitest's provide/inject.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserServer, chromium } from "playwright-core";
import type { TestProject } from "vitest/node";
import { freePort } from "./servers";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const python = process.env.DOCKYARD_PYTHON ?? resolve(repo, ".venv/bin/python");
const home = process.env.E2E_HOME ?? resolve(here, ".home");
const runs = process.env.E2E_RUNS ?? "100000";
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

async function waitFor(url: string, server: ChildProcess, seconds: number, what = "dockyard server"): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`${what} exited with ${server.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not answer ${url} within ${seconds} s`);
}

let server: ChildProcess | undefined;
let modelServer: ChildProcess | undefined;
let browser: BrowserServer | undefined;

/** Polls `check` until it holds (or fails after `seconds`, saying `what`). */
async function until(check: () => Promise<boolean>, seconds: number, what: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${seconds} s`);
}

interface Serving {
  live_uris: string[];
  example_inputs: Record<string, unknown>[];
}

/** A live `dockyard serve` on the seeded home for the whole session (the Deployments page
 * shows it live: it reports every 5 s), sent the seed's example rows for each model it
 * serves; resolves once the API lists it live with those predictions logged. */
async function startModelServer(home: string, api: string, serving: Serving): Promise<string> {
  const port = await freePort();
  const stderr: string[] = [];
  modelServer = spawn(resolve(dirname(python), "dockyard"), ["--home", home, "serve", ...serving.live_uris, "--port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, DOCKYARD_URL: "" },
  });
  modelServer.stderr?.on("data", (chunk: Buffer) => {
    stderr.push(String(chunk));
    if (stderr.length > 50) stderr.shift();
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/readyz`, modelServer, 180, "dockyard serve");
  } catch (exc) {
    throw new Error(`${(exc as Error).message}:\n${stderr.join("")}`);
  }
  const names = serving.live_uris.map((uri) => uri.replace(/^models:\//, "").replace(/@.*$/, ""));
  for (const name of names) {
    for (const row of serving.example_inputs) {
      const answer = await fetch(`${url}/v1/models/${name}/predict`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: row }),
      });
      if (!answer.ok) throw new Error(`dockyard serve answered ${answer.status} for ${name}: ${await answer.text()}`);
    }
  }
  // its heartbeat (every 5 s) says when what it answered is in the prediction log
  const sent = names.length * serving.example_inputs.length;
  type Listed = { address: string; state: { predictions_logged: number } };
  const logged = async () => {
    const listed: Listed[] = await (await fetch(`${api}/api/v1/serving/instances?live=true`)).json();
    return listed.some((i) => i.address.endsWith(`:${port}`) && i.state.predictions_logged >= sent);
  };
  await until(logged, 60, `the model server was not listed live with its ${sent} predictions logged`);
  return url;
}

async function stopModelServer(): Promise<void> {
  const child = modelServer;
  if (!child || child.exitCode !== null) return;
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM"); // a graceful stop writes the rest of the log and records the stop
  await Promise.race([exited, new Promise((done) => (timer = setTimeout(done, 20_000)))]);
  clearTimeout(timer);
}

async function launchBrowser(): Promise<BrowserServer> {
  return await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const summaryFile = resolve(home, "seed-summary.json");
  const given = process.env.E2E_BASE_URL;
  if (given) {
    // UI development: test a running UI (e.g. `npx vite` proxying to a server on the seeded home)
    if (!existsSync(summaryFile)) throw new Error(`E2E_BASE_URL is set but ${summaryFile} is missing: seed the home first`);
    const givenSeed = JSON.parse(readFileSync(summaryFile, "utf8"));
    const base = given.replace(/\/$/, "");
    project.provide("modelServer", await startModelServer(home, base, givenSeed.serving));
    browser = await launchBrowser();
    project.provide("baseURL", base);
    project.provide("wsEndpoint", browser.wsEndpoint());
    project.provide("seed", givenSeed);
    return async () => {
      await browser?.close();
      await stopModelServer();
    };
  }
  mkdirSync(home, { recursive: true });
  const started = Date.now();
  const seeded = spawnSync(python, [resolve(here, "seed.py"), home, "--runs", runs], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, DOCKYARD_HOME: home, DOCKYARD_URL: "" },
  });
  if (seeded.status !== 0) throw new Error(`seeding ${home} failed (exit ${seeded.status}):\n${seeded.stdout}`);
  const summary = JSON.parse(seeded.stdout.trim().split("\n").pop() ?? "{}");
  writeFileSync(summaryFile, JSON.stringify(summary, null, 2));
  console.log(`e2e: seeded ${home} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const port = await freePort();
  const dockyard = resolve(dirname(python), "dockyard");
  server = spawn(dockyard, ["--home", home, "server", "--port", String(port), "--no-scheduler"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DOCKYARD_URL: "" },
  });
  const baseURL = `http://127.0.0.1:${port}`;
  await waitFor(`${baseURL}/api/v1/health`, server, 60);
  const startedServing = Date.now();
  try {
    project.provide("modelServer", await startModelServer(home, baseURL, summary.serving));
  } catch (exc) {
    await stopModelServer();
    server.kill("SIGTERM");
    throw exc;
  }
  console.log(`e2e: a live model server answered and logged in ${((Date.now() - startedServing) / 1000).toFixed(1)} s`);

  browser = await launchBrowser();
  project.provide("baseURL", baseURL);
  project.provide("wsEndpoint", browser.wsEndpoint());
  project.provide("seed", summary);

  return async () => {
    await browser?.close();
    await stopModelServer();
    server?.kill("SIGTERM");
  };
}
