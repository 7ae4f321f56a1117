import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { expectNoErrors, open, seed, shot as save } from "./support";

/** A screenshot without Vite's error overlay, which a dev server shows for any broken module
 * of the app (another page being edited), not for this page. */
async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => document.querySelectorAll("vite-error-overlay").forEach((e) => e.remove()));
  await save(page, name);
}

// The seeded home has the feature view fraud/card_history over fraud/transactions: applied
// twice (v2 widens frauds_known's window, adds amount_max_7d, changes the lateness),
// materialized, three events pushed for two cards, and the training set card_training@1
// built from card_labels@1.
const f = () => seed().features;
const viewPath = () => `/features/${f().project}/${f().view}`;

/** Opens `path`, waits for `ready`, and checks that the page logged no error or warning. */
async function quiet(path: string, ready: string): Promise<Page> {
  const { page, errors, warnings } = await open(path);
  await page.locator(ready).first().waitFor();
  await page.waitForLoadState("networkidle");
  expect({ path, warnings }).toEqual({ path, warnings: [] });
  await expectNoErrors(page, errors);
  return page;
}

describe("feature views", () => {
  it("lists the views of every project with their online freshness", async () => {
    const page = await quiet("/features", "[data-testid=view-row]");
    const row = page.locator(`[data-testid=view-row][data-view=${f().view}]`);
    const text = (await row.textContent()) ?? "";
    expect(text).toContain(f().project);
    expect(text).toContain(`v${f().versions}`);
    expect(text).toContain("card_hash");
    expect(text).toContain(f().source);
    const events = f().materialized_events + f().pushed_events;
    expect(await row.locator("[data-testid=view-freshness]").textContent()).toContain(`${events.toLocaleString("en-US")} events online`);
    expect(await row.locator("[data-testid=view-freshness]").textContent()).toMatch(/newest event (just now|\d+ (min|h|d) ago)/);
    expect(await row.getByRole("link", { name: f().source }).getAttribute("href")).toBe(`/datasets/${f().project}/${f().source}`);
    await shot(page, "features-list");

    // reachable from the navigation and from the project page, filtered by project in the URL
    await page.locator(".topbar").getByRole("link", { name: "Features" }).waitFor();
    const project = await quiet(`/projects/${f().project}`, "[data-testid=feature-views]");
    await project.locator("[data-testid=feature-views]").getByRole("link", { name: f().view }).click();
    await project.waitForURL(new RegExp(`${viewPath()}$`));
    const filtered = await quiet(`/features?project=${f().project}`, "[data-testid=view-row]");
    // the demo's own views (demo/features.py) are in the project too
    const projects = await filtered.locator("[data-testid=view-row]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-view")));
    expect(projects).toContain(f().view);
    expect(projects).toContain("card_activity");
    const none = await quiet("/features?project=scale", "[data-testid=no-views]");
    expect(await none.locator("[data-testid=no-views]").textContent()).toContain("No feature views in project scale");
  });

  it("shows the definition in words", async () => {
    const page = await quiet(viewPath(), "[data-testid=feature-row]");
    const description = (name: string) => page.locator(`[data-testid=feature-row][data-feature=${name}] [data-testid=feature-description]`).textContent();
    expect(await description("amount_sum_24h")).toBe("sum of amount over 24h");
    expect(await description("frauds_known")).toBe("sum of is_fraud over 90d, once label_available_at has passed");
    expect(await description("transactions_all")).toBe("count of transaction_id over all history");
    expect(await description("last_amount")).toBe("latest value of amount, null once older than 30d");
    expect(await description("amount_vs_mean")).toMatch(/^computed by its owner's function \S+:amount_vs_mean from amount, card_history:amount_mean_7d/);
    expect(await page.locator("[data-testid=feature-row][data-feature=amount_vs_mean]").textContent()).toContain("on-demand");
    const entities = await page.locator("[data-testid=entities]").textContent();
    expect(entities).toContain("card");
    expect(entities).toContain("card_hash");
    const definition = (await page.locator("[data-testid=definition]").textContent()) ?? "";
    expect(definition).toContain("after 30d");
    expect(definition).toContain("up to 2h older");
    expect(await page.locator("[data-testid=definition]").getByRole("link", { name: `${f().project}/${f().source}` }).getAttribute("href")).toBe(
      `/datasets/${f().project}/${f().source}`,
    );
    await shot(page, "feature-view-definition");
  });

  it("shows the two versions with what changed", async () => {
    const page = await quiet(`${viewPath()}?tab=versions`, "[data-testid=view-version]");
    expect(await page.locator("[data-testid=view-version]").count()).toBe(2);
    const latest = (await page.locator("[data-testid=view-version][data-version='2']").textContent()) ?? "";
    expect(latest).toContain("lateness: 1h -> 2h");
    expect(latest).toContain("feature amount_max_7d added");
    expect(latest).toContain("feature frauds_known: window 30d -> 90d");
    expect(latest).toContain("latest");
    expect(await page.locator("[data-testid=view-version][data-version='1']").textContent()).toContain("first definition");
    await shot(page, "feature-view-versions");
  });

  it("shows the online state and looks up a seeded card", async () => {
    const page = await quiet(`${viewPath()}?tab=online`, "[data-testid=online-state]");
    const materialization = (await page.locator("[data-testid=materialization]").textContent()) ?? "";
    expect(materialization).toContain(`${f().project}/${f().source}@${f().materialized_version}`);
    expect(materialization).toContain(f().materialized_events.toLocaleString("en-US"));
    const state = (await page.locator("[data-testid=online-state]").textContent()) ?? "";
    expect(state).toContain((f().materialized_events + f().pushed_events).toLocaleString("en-US"));
    expect(state).toContain("pushes accept events from");
    expect(state).toContain("the newest event minus the lateness 2h");

    await page.locator("[data-testid=lookup-values]").fill(`${f().card}, no-such-card`);
    await page.locator("[data-testid=lookup-submit]").click();
    const rows = page.locator("[data-testid=lookup-row]");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    const seeded = rows.nth(0);
    expect(await seeded.locator("[data-column=card_hash]").textContent()).toBe(f().card);
    // every event of the card counts (all history): the demo's and the two pushed
    expect(Number((await seeded.locator("[data-column=transactions_all]").textContent())?.replace(/,/g, ""))).toBeGreaterThan(2);
    expect(await rows.nth(1).locator("[data-column=transactions_all]").textContent()).toBe("0");
    expect(await rows.nth(1).locator("[data-column=last_amount]").textContent()).toBe("null");
    expect(await page.locator("[data-testid=lookup-result]").textContent()).toContain("values as of");
    await expectNoErrors(page, []);
    await shot(page, "feature-view-online");

    // a key column the view does not have: the server's message, readable
    await page.locator("[data-testid=lookup-column]").fill("card");
    await page.locator("[data-testid=lookup-submit]").click();
    const error = page.locator("[data-testid=lookup] [data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("the lookup lacks the key column(s) ['card_hash'] of 'card_history'");
    expect(await page.locator("[data-testid=lookup-result]").count()).toBe(0);
    await shot(page, "feature-view-lookup-error");
  });

  it("links the training set to its dataset version", async () => {
    const page = await quiet(`${viewPath()}?tab=training-sets`, "[data-testid=training-set]");
    const row = page.locator("[data-testid=training-set]").first();
    const text = (await row.textContent()) ?? "";
    expect(text).toContain(`v${f().versions}`);
    expect(text).toContain(f().labels);
    const link = row.locator("[data-testid=training-set-link]");
    expect(await link.textContent()).toBe(`${f().training_set}@${f().training_set_version}`);
    expect(await row.getByRole("link", { name: f().labels }).getAttribute("href")).toBe(`/datasets/${f().labels.replace("@", "?version=")}`);
    await shot(page, "feature-view-training-sets");
    await link.click();
    await page.waitForURL(new RegExp(`/datasets/${f().project}/${f().training_set}\\?version=${f().training_set_version}$`));
    await page.locator("[data-testid=versions-table]").waitFor();
  });

  it("an unknown view, project or tab is a readable message", async () => {
    const { page } = await open(`/features/${f().project}/no_such_view`);
    const error = page.locator("[data-testid=error]");
    await error.waitFor();
    expect(await error.textContent()).toContain("has no feature view 'no_such_view'");
    await shot(page, "feature-view-unknown");

    const project = await open(`/features/no-such-project/${f().view}`);
    await project.page.locator("[data-testid=error]").waitFor();
    expect(await project.page.locator("[data-testid=error]").textContent()).toContain("no-such-project");

    const list = await open("/features?project=no-such-project");
    await list.page.locator("[data-testid=error]").waitFor();
    expect(await list.page.locator("[data-testid=error]").textContent()).toContain("no-such-project");

    const tab = await open(`${viewPath()}?tab=nonsense`);
    const notice = tab.page.locator("[data-testid=unknown-tab]");
    await notice.waitFor();
    expect(await notice.textContent()).toContain("There is no tab “nonsense” here");
    await tab.page.locator("[data-testid=feature-row]").first().waitFor();
  });
});
