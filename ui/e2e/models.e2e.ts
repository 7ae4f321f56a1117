import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { expectNoErrors, open, seed, shot as save } from "./support";

/** A screenshot without Vite's error overlay, which a dev server shows for any broken module
 * of the app (another page being edited), not for this page. */
async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => document.querySelectorAll("vite-error-overlay").forEach((e) => e.remove()));
  await save(page, name);
}

// The seeded home has fraud-detector (registered by the demo pipeline's register step,
// evaluated by its evaluate step, @champion moved there through a gate, scored by score).
const model = () => seed().demo.model;

describe("models", () => {
  it("lists the registered models with versions and aliases", async () => {
    const { page, errors } = await open("/models");
    const row = page.locator("[data-testid=model-row]", { hasText: model() });
    await row.waitFor();
    expect(await row.textContent()).toContain("@champion");
    await expectNoErrors(page, errors);
    await shot(page, "models-list");

    await page.locator("[data-testid=model-filter]").fill("no-model-is-called-this");
    await page.locator("[data-testid=no-models]").waitFor();
    expect(new URL(page.url()).searchParams.get("q")).toBe("no-model-is-called-this");
  });

  it("filters by project from the URL", async () => {
    const { page, errors } = await open(`/models?project=fraud&q=${model().slice(0, 5)}`);
    await page.locator("[data-testid=model-row]", { hasText: model() }).waitFor();
    await expectNoErrors(page, errors);
    const unknown = await open("/models?project=no-such-project");
    await unknown.page.locator("[data-testid=error]").waitFor();
    expect(await unknown.page.locator("[data-testid=error]").textContent()).toContain("no-such-project");
  });

  it("shows the versions of a model with source run, signature and metrics", async () => {
    const { page, errors } = await open(`/models/${model()}`);
    const row = page.locator("[data-testid=model-version-row]").first();
    await row.waitFor();
    expect(await row.textContent()).toContain("lightgbm");
    await page.waitForFunction(() => document.querySelector("[data-testid=model-versions]")?.textContent?.includes("auc"));
    await expectNoErrors(page, errors);
    await shot(page, "model-versions");
  });

  it("shows each alias with its gate policy and history", async () => {
    const { page, errors } = await open(`/models/${model()}?tab=aliases`);
    await page.locator("[data-testid=alias-panel]").first().waitFor();
    await page.locator("[data-testid=alias-move]").first().waitFor();
    const panel = await page.locator("[data-testid=alias-panel]").first().textContent();
    expect(panel).toContain("@champion");
    expect(panel).toContain("auc >= 0.8");
    await expectNoErrors(page, errors);
    await shot(page, "model-aliases");
  });

  it("shows an alias history with gated moves, an override and a rollback", async () => {
    const { page, errors } = await open("/models/ui-sample-model?tab=aliases");
    await page.locator("[data-testid=alias-move]").nth(3).waitFor();
    const text = await page.locator("[data-testid=aliases]").textContent();
    expect(text).toContain("rolled back v3 → v2");
    expect(text).toContain("despite failed gates");
    await expectNoErrors(page, errors);
    await shot(page, "model-aliases-history");

    const versions = await open("/models/ui-sample-model");
    await versions.page.locator("[data-testid=model-version-row]").nth(2).waitFor();
    await versions.page.waitForFunction(() => document.querySelector("[data-testid=model-versions]")?.textContent?.includes("train_accuracy"));
    await shot(versions.page, "model-versions-several");
  });

  it("shows the model card in a sandboxed frame and as Markdown", async () => {
    const { page, errors } = await open(`/models/${model()}?version=1&tab=card`);
    const frame = page.locator("[data-testid=card-frame]");
    await frame.waitFor();
    expect(await frame.getAttribute("sandbox")).not.toContain("allow-scripts");
    const inner = page.frameLocator("[data-testid=card-frame]");
    await inner.locator("h1").waitFor();
    expect(await inner.locator("h1").textContent()).toContain(model());
    await page.waitForTimeout(200);
    await expectNoErrors(page, errors);
    await shot(page, "model-card");
    await page.getByRole("button", { name: "Markdown" }).click();
    await page.locator("[data-testid=card-markdown]").waitFor();
    expect(new URL(page.url()).searchParams.get("view")).toBe("markdown");
  });

  it("the champion's card names the train step, its data version and the commit, and shows every evaluation column", async () => {
    const { demo } = seed();
    const { page, errors } = await open(`/models/${demo.model}?version=${demo.champion_version}&tab=card`);
    const inner = page.frameLocator("[data-testid=card-frame]");
    await inner.locator("h1").waitFor();
    const text = (await inner.locator("body").textContent()) ?? "";
    expect(text).toMatch(/run\s*train \(/);
    expect(text).toContain("fraud/transactions");
    expect(text).not.toContain("recorded no dataset version");
    expect(text).not.toContain("No git commit was captured");
    const widths = await inner.locator("table").evaluateAll((tables) => tables.map((t) => [t.scrollWidth, t.clientWidth]));
    for (const [scroll, client] of widths) expect(scroll).toBeLessThanOrEqual(client + 1);
    await expectNoErrors(page, errors);
    await save(page, "model-card-champion");
  });

  it("draws the lineage of a version: source run, the runs that loaded it, their data", async () => {
    const { page, errors } = await open(`/models/${model()}?version=1&tab=lineage`);
    const graph = page.locator("[data-testid=model-lineage-graph] svg");
    await graph.waitFor();
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=model-lineage-graph] [data-node^='dataset_version:']").length > 0);
    expect(await page.locator("[data-testid=model-lineage-graph] [data-node^='run:']").count()).toBeGreaterThan(1);
    // the pipeline the source run is a step of is expanded: its train step shows up
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=model-lineage-graph] .graph-label")].some((n) => n.textContent === "train"));
    await expectNoErrors(page, errors);
    await shot(page, "model-lineage");
  });

  it("shows the signature of a version", async () => {
    const { page, errors } = await open(`/models/${model()}?tab=signature`);
    await page.locator("[data-testid=signature-inputs] tbody tr").first().waitFor();
    expect(await page.locator("[data-testid=signature-outputs]").textContent()).toContain("prediction");
    await expectNoErrors(page, errors);
    await shot(page, "model-signature");
  });

  it("an unknown model or version is a readable message", async () => {
    const { page } = await open("/models/no-such-model");
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("no-such-model");
    await shot(page, "model-unknown");

    const missing = await open(`/models/${model()}?version=999&tab=card`);
    const versionError = missing.page.locator("[data-testid=error]");
    await versionError.waitFor();
    expect(await versionError.textContent()).toContain("999");
    await missing.page.locator("[data-testid=model-versions], .tab-bar").first().waitFor();
    await shot(missing.page, "model-unknown-version");
  });
});
