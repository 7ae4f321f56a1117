import { describe, expect, it } from "vitest";
import { expectNoErrors, open, seed, shot } from "./support";

describe("pipeline runs", () => {
  it("lists pipeline runs with their status and steps", async () => {
    const { page, errors } = await open("/pipelines");
    await page.locator("[data-testid=pipeline-runs] tbody tr").first().waitFor();
    expect(await page.locator("[data-testid=pipeline-runs]").textContent()).toContain("fraud_training");
    await expectNoErrors(page, errors);
    await shot(page, "pipelines-list");
  });

  it("shows the demo pipeline run as a graph", async () => {
    const id = seed().pipeline_run as string;
    const { page, errors } = await open(`/pipelines/${id}`);
    await page.locator("[data-testid=pipeline-graph] [data-node=train]").waitFor();
    await page.locator("[data-testid=timeline] canvas").waitFor();
    await expectNoErrors(page, errors);
    await shot(page, "pipeline-run");
  });

  it("selects a step and shows its details", async () => {
    const id = seed().pipeline_run as string;
    const { page, errors } = await open(`/pipelines/${id}`);
    await page.locator("[data-testid=pipeline-graph] [data-node=train]").click();
    await page.locator("[data-testid=step-panel]").waitFor();
    expect(page.url()).toContain("step=train");
    await page.waitForTimeout(500);
    await expectNoErrors(page, errors);
    await shot(page, "pipeline-run-step");
  });

  it("an unknown pipeline run says so", async () => {
    const { page } = await open("/pipelines/nosuchrun");
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("nosuchrun");
    await shot(page, "pipeline-run-unknown");
  });
});
