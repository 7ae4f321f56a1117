// Seeds a dockyard home (the demo plus many runs), serves it with a real `dockyard server`
// and starts headless Chromium; the tests get the URLs through vitest's provide/inject.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserServer, chromium } from "playwright-core";
import type { TestProject } from "vitest/node";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const python = process.env.DOCKYARD_PYTHON ?? resolve(repo, ".venv/bin/python");
const home = process.env.E2E_HOME ?? resolve(here, ".home");
const runs = process.env.E2E_RUNS ?? "100000";
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitFor(url: string, server: ChildProcess, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`dockyard server exited with ${server.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`dockyard server did not answer ${url} within ${seconds} s`);
}

let server: ChildProcess | undefined;
let browser: BrowserServer | undefined;

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
    browser = await launchBrowser();
    project.provide("baseURL", given.replace(/\/$/, ""));
    project.provide("wsEndpoint", browser.wsEndpoint());
    project.provide("seed", JSON.parse(readFileSync(summaryFile, "utf8")));
    return async () => {
      await browser?.close();
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

  browser = await launchBrowser();
  project.provide("baseURL", baseURL);
  project.provide("wsEndpoint", browser.wsEndpoint());
  project.provide("seed", summary);

  return async () => {
    await browser?.close();
    server?.kill("SIGTERM");
  };
}
