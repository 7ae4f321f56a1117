import { describe, expect, it } from "vitest";
import { expectNoErrors, open, record, seed, shot } from "./support";

describe("projects", () => {
  it("the overview shows every project with its counts and recent activity", async () => {
    const started = Date.now();
    const { page, errors } = await open("/");
    const fraud = page.locator("[data-testid=project-card][data-project=fraud]");
    await fraud.waitFor();
    // counts arrive from count queries: wait until runs and pipeline runs are no longer "—"
    await page.waitForFunction(() => {
      const card = document.querySelector("[data-testid=project-card][data-project=fraud]");
      return card !== null && [...card.querySelectorAll(".pcard-stats .n")].every((n) => n.textContent !== "—");
    });
    record("projects overview: counts shown", Date.now() - started);
    expect(await fraud.textContent()).toContain("fraud_training");
    await page.locator("[data-testid=run-feed] li").first().waitFor();
    await page.locator("[data-testid=pipeline-runs] tbody tr").first().waitFor();
    expect(await page.locator("[data-testid=model-feed]").textContent()).toContain("fraud-detector");
    const scale = seed().scale.project;
    if (seed().scale.runs > 0) {
      const card = page.locator(`[data-testid=project-card][data-project=${scale}]`);
      await card.waitFor();
      await expect.poll(async () => card.locator(".pcard-stats .n").nth(1).textContent()).not.toBe("—");
    }
    await expectNoErrors(page, errors);
    await shot(page, "projects-overview");
  });

  it("a project page lists its experiments, datasets, models and pipeline runs", async () => {
    const project = seed().demo.project;
    const { page, errors } = await open(`/projects/${project}`);
    await page.locator("[data-testid=experiments] [data-experiment=fraud_training]").waitFor();
    await page.locator("[data-testid=datasets]").getByText("transactions").waitFor();
    expect(await page.locator("[data-testid=models]").textContent()).toContain("@champion");
    await page.locator("[data-testid=pipeline-runs]").getByText("fraud_training").waitFor();
    await page.locator("[data-testid=runs] tbody tr").first().waitFor();
    const link = page.locator("[data-testid=experiments] [data-experiment=fraud_training] a").first();
    expect(await link.getAttribute("href")).toBe(`/runs?project=${project}&experiment=fraud_training`);
    await expectNoErrors(page, errors);
    await shot(page, "project-fraud");
  });

  it("an unknown project says so", async () => {
    const { page } = await open("/projects/no-such-project");
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("no-such-project");
    await shot(page, "project-unknown");
  });
});
