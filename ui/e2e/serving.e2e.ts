import { describe, expect, it } from "vitest";
import { expectNoErrors, open, seed, shot } from "./support";

// The seed served ui-serving-model@champion (v1, then v2 after the alias moved) in a server
// that stopped; the setup started a live `dockyard serve` on ui-serving-model@champion and
// ui-sample-model@staging and sent each of them the seed's example rows.
const model = () => seed().serving.model;

describe("serving", () => {
  it("the Deployments page lists the live server with the versions, counters and latency of its models", async () => {
    const { page, errors, warnings } = await open("/");
    await page.locator(".topbar nav a", { hasText: "Deployments" }).click();
    const card = page.locator(`[data-testid=deployment][data-model="${model()}"]`);
    await card.waitFor();
    expect(new URL(page.url()).pathname).toBe("/deployments");
    const live = card.locator("[data-testid=replica]").first();
    const text = (await live.textContent()) ?? "";
    expect(text).toContain("live");
    expect(text).toContain("@champion");
    expect(text).toContain(`v${seed().serving.versions[1]}`);
    expect(text).toContain("serving");
    expect(text).toMatch(/\d+(\.\d+)? ms/); // p50 and p99
    expect(await live.locator("[data-testid=traffic]").textContent()).toContain("@champion 100%");
    await page.locator('[data-testid=deployment][data-model="ui-sample-model"]').waitFor();
    expect(await page.locator("[data-testid=server-row][data-status=live]").count()).toBeGreaterThan(0);
    // the request rate appears from the second heartbeat the page sees (servers beat every 5 s)
    await expect.poll(async () => (await live.locator("td").nth(4).textContent())?.trim(), { timeout: 40_000, interval: 1000 }).toMatch(/\/s$/);
    await expectNoErrors(page, errors);
    expect(warnings).toEqual([]);
    await shot(page, "deployments");
    expect(await card.locator("[data-testid=log-link]").getAttribute("href")).toBe(`/models/${model()}/predictions`);
  });

  it("lists stopped servers when asked", async () => {
    const { page, errors } = await open("/deployments");
    await page.locator("[data-testid=server-row]").first().waitFor();
    expect(await page.locator("[data-testid=server-row][data-status=stopped]").count()).toBe(0);
    // (the box follows the URL, which the router updates a moment after the click)
    await page.locator("[data-testid=show-stopped]").click();
    await expect.poll(() => new URL(page.url()).searchParams.get("stopped")).toBe("1");
    // the seed's server and the demo's stopped gracefully
    await page.locator("[data-testid=server-row][data-status=stopped]").first().waitFor();
    expect(await page.locator("[data-testid=show-stopped]").isChecked()).toBe(true);
    await expectNoErrors(page, errors);
    await shot(page, "deployments-stopped");
  });

  it("the prediction log lists predictions newest first, filters them by version and by shadow", async () => {
    const { page, errors, warnings } = await open(`/models/${model()}/predictions`);
    const rows = page.locator("[data-testid=prediction-row]");
    await rows.first().waitFor();
    expect(warnings).toEqual([]);
    // the live server's answers of this session, at least
    expect(await rows.count()).toBeGreaterThanOrEqual(seed().serving.example_inputs.length);
    const times = await rows.locator("td:nth-child(2)").allTextContents();
    expect([...times].sort().reverse()).toEqual(times);
    expect(await rows.first().textContent()).toContain("quantity=");
    await expectNoErrors(page, errors);
    await shot(page, "prediction-log");

    const v2 = String(seed().serving.versions[1]);
    await page.locator("[data-testid=version-filter]").selectOption(v2);
    await expect.poll(() => new URL(page.url()).searchParams.get("version")).toBe(v2);
    await expect.poll(async () => new Set(await rows.locator("td:nth-child(3)").allTextContents())).toEqual(new Set([`v${v2}`]));

    await page.locator("[data-testid=shadow-filter]").selectOption("true");
    await page.locator("[data-testid=no-predictions]").waitFor();
    await page.getByRole("button", { name: "last 7 days" }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("7d");
    // the URL changes before the page reloads the log: wait for the message of the new range
    await expect.poll(async () => (await page.locator("[data-testid=no-predictions]").textContent()) ?? "").toContain("last 7 days");
    await expectNoErrors(page, errors);
  });

  it("a row of the log opens the trace of its prediction", async () => {
    const { page, errors } = await open(`/models/${model()}/predictions`);
    const first = page.locator("[data-testid=prediction-row]").first();
    await first.waitFor();
    const id = ((await first.locator("td").first().textContent()) ?? "").trim();
    await first.locator("td").nth(1).click();
    await page.locator("[data-testid=trace-page]").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/predictions/${id}`);
    await page.locator("[data-testid=trace-run-link]").waitFor();
    await expectNoErrors(page, errors);
  });

  it("the trace of a prediction shows its inputs and output, the version, run, code, data and environment", async () => {
    const { serving } = seed();
    const { page, errors, warnings } = await open(`/predictions/${serving.prediction}`);
    await page.locator("[data-testid=trace-page]").waitFor();
    expect(warnings).toEqual([]);
    expect(await page.locator("[data-testid=trace-inputs]").textContent()).toContain("amount");
    expect(await page.locator("[data-testid=trace-version-link]").getAttribute("href")).toBe(`/models/${serving.model}?version=${serving.versions[1]}`);
    expect(await page.locator("[data-testid=trace-why]").textContent()).toContain("challenger wins on refunds");
    const run = page.locator("[data-testid=trace-run-link]");
    expect(await run.getAttribute("href")).toBe(`/runs/${serving.run}`);
    expect(await page.locator("[data-testid=trace-commit]").textContent()).toMatch(/^[0-9a-f]{40}$/);
    expect(await page.locator("[data-testid=trace-diff-link]").getAttribute("href")).toContain(`/runs/${serving.run}?tab=artifacts&path=`);
    const dataset = page.locator("[data-testid=trace-dataset-link]");
    expect(await dataset.textContent()).toBe(`${serving.dataset}@${serving.dataset_version}`);
    expect(await page.locator("[data-testid=trace-step-env]").textContent()).toContain("scikit-learn");
    await expectNoErrors(page, errors);
    await shot(page, "prediction-trace");

    await run.click();
    await page.locator("[data-testid=run-page]").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/runs/${serving.run}`);
  });

  it("a pasted prediction id opens its trace; an unknown or malformed one is a readable message", async () => {
    const { serving } = seed();
    const { page, errors } = await open("/deployments");
    const input = page.locator("[data-testid=trace-input]");
    await input.fill("not an id");
    await input.press("Enter");
    expect(await page.locator("[data-testid=trace-problem]").textContent()).toContain("32 hexadecimal");
    await input.fill(`  dockyard trace ${serving.prediction.toUpperCase()} `);
    await page.getByRole("button", { name: "Trace" }).click();
    await page.locator("[data-testid=trace-run-link]").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/predictions/${serving.prediction}`);
    await expectNoErrors(page, errors);

    const unknown = await open(`/predictions/${"0".repeat(31)}1`);
    const error = unknown.page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("no logged prediction has id");
    await shot(unknown.page, "prediction-trace-unknown");
    const malformed = await open("/predictions/abc");
    await malformed.page.locator("[data-testid=error]").waitFor();
    expect(await malformed.page.locator("[data-testid=error]").textContent()).toContain("32 lowercase hex");
  });

  it("the model page links to the model's prediction log", async () => {
    const { page, errors } = await open(`/models/${model()}`);
    const link = page.locator("[data-testid=prediction-log-link]");
    await link.click();
    await page.locator("[data-testid=prediction-row]").first().waitFor();
    expect(new URL(page.url()).pathname).toBe(`/models/${model()}/predictions`);
    await expectNoErrors(page, errors);
  });
});
