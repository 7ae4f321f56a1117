import { describe, expect, it } from "vitest";
import { expectNoErrors, open, shot } from "./support";

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
});
