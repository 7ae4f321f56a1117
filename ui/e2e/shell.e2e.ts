import { describe, expect, it } from "vitest";
import { expectNoErrors, open, seed, shot } from "./support";

describe("the app shell", () => {
  it("serves the UI at / with its navigation", async () => {
    const { page, errors } = await open("/");
    await expect(page.locator(".topbar").textContent()).resolves.toContain("Runs");
    await page.locator(".health").waitFor();
    await expectNoErrors(page, errors);
    await shot(page, "shell-home");
  });

  it("an unknown page says so instead of a blank screen", async () => {
    const { page } = await open("/no/such/page");
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("There is no page at /no/such/page");
    await shot(page, "shell-unknown-page");
  });

  it("no page logs a warning (the router's about its first load included)", async () => {
    const { demo } = seed();
    const views = ["/features", `/features/${seed().features.project}/${seed().features.view}`];
    for (const path of ["/", "/runs", `/models/${demo.model}`, `/pipelines/${demo.pipeline_run}`, "/datasets", ...views]) {
      const { page, errors, warnings } = await open(path);
      await page.locator("main, .page, [role=tablist], h1").first().waitFor();
      await page.waitForLoadState("networkidle");
      expect({ path, warnings }).toEqual({ path, warnings: [] });
      await expectNoErrors(page, errors);
    }
  });

  it("an unknown tab in the URL says so instead of silently showing the first", async () => {
    const { demo } = seed();
    const { page } = await open(`/models/${demo.model}?tab=nonsense`);
    const notice = page.locator("[data-testid=unknown-tab]");
    await notice.waitFor();
    expect(await notice.textContent()).toContain("There is no tab “nonsense” here");
    await shot(page, "shell-unknown-tab");
  });
});
