import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { baseURL, expectNoErrors, open, seed, shot } from "./support";

const PYTHON = process.env.DOCKYARD_PYTHON ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../.venv/bin/python");

describe("pipeline runs", () => {
  it("lists pipeline runs with their status and steps", async () => {
    const { page, errors } = await open("/pipelines");
    await page.locator("[data-testid=pipeline-runs] tbody tr").first().waitFor();
    expect(await page.locator("[data-testid=pipeline-runs]").textContent()).toContain("fraud_training");
    await expectNoErrors(page, errors);
    await shot(page, "pipelines-list");
  });

  it("shows the demo pipeline run as a graph", async () => {
    const id = seed().demo.pipeline_run;
    const { page, errors } = await open(`/pipelines/${id}`);
    await page.locator("[data-testid=pipeline-graph] [data-node=train]").waitFor();
    await page.locator("[data-testid=timeline] canvas").waitFor();
    await expectNoErrors(page, errors);
    await shot(page, "pipeline-run");
  });

  it("counts what the steps table lists, and says which time each view shows", async () => {
    const id = seed().demo.pipeline_run;
    const { page, errors } = await open(`/pipelines/${id}`);
    await page.locator("[data-testid=steps-table] tbody tr").first().waitFor();
    const rows = await page.locator("[data-testid=steps-table] tbody tr").count();
    const card = (await page.getByTestId("steps-card").textContent()) ?? "";
    const [steps, loads] = (card.match(/^(\d+) \+ (\d+)/) ?? []).slice(1).map(Number);
    expect(card).toContain("steps + data load");
    expect(steps + loads).toBe(rows);
    expect(await page.getByTestId("timeline-note").textContent()).toContain("wall time");
    expect(await page.getByTestId("graph-note").textContent()).toContain("function ran");
    expect(await page.locator("[data-testid=steps-table] thead").textContent()).toContain("Ran for");
    await expectNoErrors(page, errors);
  });

  it("selects a step and shows its details", async () => {
    const id = seed().demo.pipeline_run;
    const { page, errors } = await open(`/pipelines/${id}`);
    await page.locator("[data-testid=pipeline-graph] [data-node=train]").click();
    await page.locator("[data-testid=step-panel]").waitFor();
    expect(page.url()).toContain("step=train");
    await page.waitForTimeout(500);
    await expectNoErrors(page, errors);
    await shot(page, "pipeline-run-step");
  });

  it("a failed fan-out shows its failed items' logs with their tracebacks", async () => {
    const { page, errors } = await open(`/pipelines/${seed().failed_pipeline_run}?step=score_batch`);
    await page.locator(".page-title .status-failed").waitFor();
    await page.locator("[data-testid=pipeline-graph] [data-node=score_batch].tone-failed").waitFor();
    await page.locator("[data-testid=pipeline-graph] [data-node=publish].tone-skipped").waitFor();
    const failed = page.getByTestId("failed-item-logs");
    await failed.waitFor();
    expect(await failed.locator("button").allTextContents()).toEqual(["item 3", "item 7"]);
    const log = page.getByTestId("item-log");
    await expect.poll(async () => log.textContent()).toContain("ValueError: batch 3: 12 rows have a negative amount");
    expect(await log.textContent()).toContain("scoring batch 3");
    await failed.getByText("item 7").click();
    await expect.poll(async () => log.textContent()).toContain("batch 7");
    await expectNoErrors(page, errors);
    await shot(page, "pipeline-run-failed-items");
  });

  it("an unknown pipeline run says so", async () => {
    const { page } = await open("/pipelines/nosuchrun");
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("nosuchrun");
    await shot(page, "pipeline-run-unknown");
  });
});

// A small slow pipeline started from the test against the same server: the page shows its
// step running, then (polling every 2 s) the run finished, without a reload.
const LIVE_PIPELINE = `
import sys, time
import dockyard as dy

@dy.step
def quick(tag: str) -> int:
    return 1

@dy.step
def slow(x: int, seconds: float, tag: str) -> int:
    print("working", flush=True)
    time.sleep(seconds)
    return x + 1

@dy.pipeline
def e2e_live(tag: str = "", seconds: float = 6.0):
    slow(quick(tag), seconds, tag)

if __name__ == "__main__":
    dy.run(e2e_live, project="e2e-live", executor="inprocess", tag=sys.argv[1], seconds=float(sys.argv[2]))
`;

describe("a live pipeline run", () => {
  it("shows a running step, then the finished run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dockyard-e2e-live-"));
    writeFileSync(join(dir, "live.py"), LIVE_PIPELINE);
    const tag = `t${Date.now()}`; // a new parameter of both steps: nothing comes from the cache
    const api = `${baseURL()}/api/v1`;
    await fetch(`${api}/projects`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: "e2e-live" }) });
    const child = spawn(PYTHON, [join(dir, "live.py"), tag, "8"], {
      env: { ...process.env, DOCKYARD_URL: baseURL(), DOCKYARD_HOME: join(dir, "home") },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => (stderr += String(chunk)));
    try {
      // the pipeline run with our tag, once it is recorded
      let id: string | undefined;
      for (let i = 0; i < 120 && !id; i += 1) {
        const page = (await (await fetch(`${api}/pipelines/runs?project=e2e-live&limit=5`)).json()) as { items: { id: string; params: { tag?: string } }[] };
        id = page.items.find((r) => r.params.tag === tag)?.id;
        if (!id) await new Promise((r) => setTimeout(r, 250));
      }
      expect(id, `the pipeline run did not start: ${stderr}`).toBeTruthy();
      const { page, errors } = await open(`/pipelines/${id}?step=slow`);
      await page.locator("[data-testid=pipeline-graph] [data-node=slow].tone-running").waitFor({ timeout: 30_000 });
      expect(await page.locator(".page-title .status").textContent()).toBe("running");
      await shot(page, "pipeline-run-live");
      await page.locator("[data-testid=pipeline-graph] [data-node=slow].tone-succeeded").waitFor({ timeout: 60_000 });
      await page.locator(".page-title .status-succeeded").waitFor({ timeout: 10_000 });
      await page.locator("[data-testid=step-log]").waitFor({ timeout: 10_000 });
      expect(await page.locator("[data-testid=step-log]").textContent()).toContain("working");
      await expectNoErrors(page, errors);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
