import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { expectNoErrors, open, seed, shot as save } from "./support";

/** A screenshot without Vite's error overlay, which a dev server shows for any broken module
 * of the app (another page being edited), not for this page. */
async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => document.querySelectorAll("vite-error-overlay").forEach((e) => e.remove()));
  await save(page, name);
}

// The seeded home has fraud/transactions (the version the pipeline's steps read, then the
// events pushed to the feature view card_history appended as the latest) and
// fraud/fraud_scores (written by the score step). fraud/ui_sample, when seeded, has three
// versions (v2 adds a column and changes rows, v3 fails its rules): Diff and Validation
// are exercised on it.
const project = () => seed().demo.project;
/** "transactions" from the summary's "fraud/transactions" (or an older summary's "transactions"). */
const dataset = () => seed().demo.dataset.split("/").pop() as string;

describe("datasets", () => {
  it("lists the datasets of every project with their latest version", async () => {
    const { page, errors } = await open("/datasets");
    // by its exact name: the demo also writes transaction_features
    const row = page.locator("[data-testid=dataset-row]").filter({ has: page.getByRole("link", { name: dataset(), exact: true }) });
    await row.waitFor();
    expect(await row.textContent()).toContain(project());
    await page.waitForFunction(() => !document.querySelector("[data-testid=datasets-table]")?.textContent?.includes("…"));
    expect(await row.locator("td").nth(4).textContent()).toMatch(/\d/);
    await expectNoErrors(page, errors);
    await shot(page, "datasets-list");

    await page.locator("[data-testid=dataset-filter]").fill("scores");
    await page.waitForFunction(() => new URL(location.href).searchParams.get("q") === "scores");
    expect(await page.locator("[data-testid=dataset-row]").count()).toBe(1);
    await row.waitFor({ state: "detached" });
  });

  it("filters by project from the URL and says when a project is unknown", async () => {
    const { page, errors } = await open(`/datasets?project=${project()}`);
    await page.locator("[data-testid=dataset-row]").first().waitFor();
    await expectNoErrors(page, errors);
    const unknown = await open("/datasets?project=no-such-project");
    const error = unknown.page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("no-such-project");
  });

  it("shows the schema of the transactions dataset", async () => {
    const { page, errors } = await open(`/datasets/${project()}/${dataset()}`);
    await page.locator("[data-testid=versions-table]").waitFor();
    await page.locator("[data-testid=schema-row]").first().waitFor();
    expect(await page.locator("[data-testid=schema-row]").count()).toBeGreaterThan(5);
    expect(await page.locator("[data-testid=schema]").textContent()).toContain("amount");
    await expectNoErrors(page, errors);
    await shot(page, "dataset-schema");
  });

  it("draws per-column statistics: histograms and top values", async () => {
    const { page, errors } = await open(`/datasets/${project()}/${dataset()}?tab=stats`);
    await page.locator("[data-testid=column-stats]").first().waitFor();
    await page.locator("[data-testid=chart-histogram] canvas").first().waitFor();
    await page.locator("[data-testid=chart-top] canvas").first().waitFor();
    const amount = page.locator("[data-testid=column-stats][data-column=amount]");
    expect(await amount.textContent()).toContain("mean");
    await page.waitForTimeout(400); // chart animation
    await expectNoErrors(page, errors);
    await shot(page, "dataset-stats");
  });

  it("draws the lineage of a version with links to the runs", async () => {
    // the version the demo's pipeline read (the latest holds the events pushed since)
    const { page, errors } = await open(`/datasets/${project()}/${dataset()}?version=${seed().demo.dataset_version}&tab=lineage`);
    await page.locator("[data-testid=lineage-graph] svg").waitFor();
    expect(await page.locator("[data-testid=lineage-graph] [data-node^='run:']").count()).toBeGreaterThan(0);
    // the pipeline that read it is expanded into its steps, down to the model they registered
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=lineage-graph] [data-node^='model_version:']").length > 0);
    await expectNoErrors(page, errors);
    await shot(page, "dataset-lineage");
    await page.locator("[data-testid=lineage-graph] [data-node^='model_version:']").first().click();
    await page.waitForURL(/\/models\/[^/?]+\?version=\d+/);
  });

  it("shows the lineage of a version written by a pipeline step", async () => {
    const { page, errors } = await open(`/datasets/${project()}/fraud_scores?tab=lineage`);
    await page.locator("[data-testid=lineage-graph] svg").waitFor();
    expect(await page.locator("[data-testid=lineage-graph] [data-node^='model_version:']").count()).toBeGreaterThan(0);
    await expectNoErrors(page, errors);
    await shot(page, "dataset-lineage-scores");
  });

  it("validation: an unvalidated version says so", async () => {
    const { page, errors } = await open(`/datasets/${project()}/${dataset()}?tab=validation`);
    await page.locator("[data-testid=validation]").waitFor();
    expect(await page.locator("[data-testid=validation]").textContent()).toMatch(/Not validated/);
    await expectNoErrors(page, errors);
  });

  it("validation: rules passed and failed with counts and examples", async () => {
    const { page, errors } = await open(`/datasets/${project()}/ui_sample?version=3&tab=validation`);
    await page.locator("[data-testid=verdict]").waitFor();
    expect(await page.locator("[data-testid=verdict]").textContent()).toContain("rules failed");
    expect(await page.locator("[data-testid=rule-result]").count()).toBeGreaterThan(3);
    await expectNoErrors(page, errors);
    await shot(page, "dataset-validation");
  });

  it("diff: rows added, removed and changed, schema and statistics", async () => {
    const { page, errors } = await open(`/datasets/${project()}/ui_sample?version=2&tab=diff`);
    await page.locator("[data-testid=diff-rows]").waitFor();
    expect(await page.locator("[data-testid=diff-rows] tr.added").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=diff-rows] tr.removed").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=diff-rows] tr.changed").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=schema-changes] tr.added").count()).toBe(1);
    expect(new URL(page.url()).searchParams.get("tab")).toBe("diff");
    await expectNoErrors(page, errors);
    await shot(page, "dataset-diff");

    // the choice of versions lives in the URL
    await page.locator("[data-testid=diff-base]").selectOption("3");
    await page.waitForFunction(() => new URL(location.href).searchParams.get("base") === "3");
  });

  it("an unknown dataset or version is a readable message", async () => {
    const { page } = await open(`/datasets/${project()}/no_such_dataset`);
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("no_such_dataset");
    await shot(page, "dataset-unknown");

    const missing = await open(`/datasets/${project()}/${dataset()}?version=999`);
    const versionError = missing.page.locator("[data-testid=error]");
    await versionError.waitFor();
    expect(await versionError.textContent()).toContain("999");
    await missing.page.locator("[data-testid=versions-table]").waitFor();
    await shot(missing.page, "dataset-unknown-version");
  });
});
