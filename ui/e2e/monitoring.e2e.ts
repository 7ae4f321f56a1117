import { describe, expect, it } from "vitest";
import { expectNoErrors, open, poll, seed, shot } from "./support";

// The seed (seed_monitoring.py) logged five past hours of ui-monitored-model (v1, v1, v2,
// v2 with `amount` shifted, v2), labels for some of them, and ran its monitor `default`
// (auc ≥ 0.7; on alert a webhook to a closed port and a freeze). The pages are opened with
// the 30-day period so that a home seeded earlier still shows the windows.
const mon = () => seed().monitoring;
const tab = (extra = "") => `/models/${mon().model}?tab=monitoring&period=30d${extra}`;
const iso = (time: string) => new Date(time).toISOString();
const key = (w: { version: number; start: string }) => `${w.version}@${iso(w.start)}`;
const stat = (value: number) => String(Number(value.toPrecision(4)));

describe("monitoring", () => {
  it("the Monitoring tab lists the model's monitor: checks, what an alert does, how far it computed", async () => {
    const { page, errors, warnings } = await open(`/models/${mon().model}`);
    await page.getByRole("tab", { name: "Monitoring" }).click();
    await poll(() => new URL(page.url()).searchParams.get("tab")).toBe("monitoring");
    const row = page.locator("[data-testid=monitor-row][data-monitor=default]");
    await row.waitFor();
    expect(await row.locator("[data-testid=monitor-checks]").textContent()).toBe(`drift, quality, performance (${mon().metric} ≥ ${mon().minimum})`);
    expect(await row.locator("[data-testid=monitor-actions] div").allTextContents()).toEqual([`POST to ${mon().webhook}`, "freeze the model"]);
    expect(await row.locator("td").nth(1).textContent()).toBe("1h");
    // it computed past the last window of the seed
    const until = ((await row.locator("td").nth(4).textContent()) ?? "").replace(" ", "T");
    expect(Date.parse(`${until}Z`)).toBeGreaterThanOrEqual(Date.parse(mon().windows[4].end));
    expect(await row.locator("[data-testid=monitor-error]").textContent()).toBe("none");

    await page.getByRole("button", { name: "last 30 days" }).click();
    await poll(() => new URL(page.url()).searchParams.get("period")).toBe("30d");
    await page.locator("[data-testid=drift-heatmap]").waitFor();
    await expectNoErrors(page, errors);
    expect(warnings).toEqual([]);
    await shot(page, "monitoring");
  });

  it("the drift heatmap marks the drifted column in the shifted window, and no other cell", async () => {
    const { page, errors, warnings } = await open(tab());
    const cells = page.locator("[data-testid=heatmap-cell]");
    await cells.first().waitFor();
    const [v1, v2] = mon().versions;
    // a row group per version served, newest first, each with the compared columns
    expect(await page.locator("[data-testid=heatmap-version]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-version")))).toEqual([String(v2), String(v1)]);
    for (const version of [v1, v2]) {
      const columns = await page.locator(`[data-testid=heatmap-row][data-version="${version}"]`).evaluateAll((rows) => rows.map((r) => r.getAttribute("data-column")));
      expect([...columns].sort()).toEqual(mon().columns);
    }
    // every window of the seed has a result for every column (3 of v1's columns x 2 windows, 3 x 3 of v2's)
    expect(await page.locator("[data-testid=heatmap-cell]:not([data-drifted=none])").count()).toBe(mon().windows.length * mon().columns.length);
    const drifted = page.locator("[data-testid=heatmap-cell][data-drifted=true]");
    expect(await drifted.count()).toBe(1);
    const shifted = mon().shifted;
    expect(await drifted.getAttribute("data-window")).toBe(key(shifted));
    expect(await drifted.textContent()).toBe("▲"); // marked, not only coloured
    const row = page.locator(`[data-testid=heatmap-row][data-version="${shifted.version}"][data-column=${shifted.column}]`);
    expect(await row.locator("[data-drifted=true]").count()).toBe(1);
    const title = (await drifted.getAttribute("title")) ?? "";
    expect(title).toContain(`${shifted.column} (numeric) · v${shifted.version}`);
    expect(title).toMatch(/method wasserstein: statistic [\d.]+, threshold 0\.1/);
    expect(title).toContain("DRIFTED");
    // the same column in the calm windows is not drifted, and coloured differently
    const calm = row.locator("[data-drifted=false]").first();
    const colours = [await drifted.evaluate((e) => getComputedStyle(e).backgroundColor), await calm.evaluate((e) => getComputedStyle(e).backgroundColor)];
    expect(colours[0]).not.toBe(colours[1]);
    await expectNoErrors(page, errors);
    expect(warnings).toEqual([]);
  });

  it("performance shows realised and estimated values per window with label coverage and the bound", async () => {
    const { page, errors } = await open(tab());
    const panel = page.locator("[data-testid=performance]");
    await panel.waitFor();
    expect(await panel.locator("canvas").count()).toBeGreaterThan(0);
    expect(await panel.textContent()).toContain(`${mon().metric} per window; alerts below ${mon().minimum}`);
    await panel.locator("summary").click();
    const rows = panel.locator("[data-testid=performance-row]");
    expect(await rows.count()).toBe(mon().windows.length);
    const seen = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({
        start: tr.getAttribute("data-start"),
        version: tr.getAttribute("data-version"),
        coverage: tr.querySelector("[data-testid=coverage]")?.textContent,
        realised: tr.querySelector("[data-testid=realised]")?.textContent,
        estimated: tr.querySelector("[data-testid=estimated]")?.textContent,
      })),
    );
    const wanted = mon()
      .windows.map((w, i) => {
        const p = mon().performance[i];
        return {
          start: iso(w.start),
          version: String(w.version),
          coverage: `${Math.round(p.coverage * 100)}%`,
          realised: p.realised === null ? "—" : stat(p.realised),
          estimated: p.estimated === null ? "—" : stat(p.estimated),
        };
      })
      .reverse(); // newest first
    expect(seen).toEqual(wanted);
    // the seed has a window with both, one with the estimate only (no labels), one labelled only
    expect(seen.some((r) => r.realised !== "—" && r.estimated !== "—" && r.coverage === "50%")).toBe(true);
    expect(seen.some((r) => r.realised === "—" && r.estimated !== "—" && r.coverage === "0%")).toBe(true);
    await expectNoErrors(page, errors);
  });

  it("the alerts timeline shows the drift alert and what each action did, the failed webhook included", async () => {
    const { page, errors } = await open(tab());
    const alerts = page.locator("[data-testid=alert]");
    await alerts.first().waitFor();
    expect(await alerts.count()).toBe(mon().alerts.length);
    const drift = page.locator("[data-testid=alert][data-rule=drift]");
    expect(await drift.count()).toBe(1);
    expect(await drift.locator("[data-testid=alert-message]").textContent()).toContain(mon().shifted.column);
    expect(await drift.textContent()).toContain(`window from ${iso(mon().shifted.start).slice(0, 16).replace("T", " ")}`);
    const actions = drift.locator("[data-testid=alert-action]");
    const seeded = mon().alerts.find((a) => a.rule === "drift")?.actions ?? [];
    expect(await actions.evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-kind"), r.getAttribute("data-status")]))).toEqual(seeded);
    const webhook = drift.locator("[data-testid=alert-action][data-kind=webhook]");
    const cells = await webhook.locator("td").allTextContents();
    expect(cells[1]).toBe(mon().webhook);
    expect(cells[2]).toBe("failed");
    expect(cells[3]).toMatch(/Connect|refused/i);
    expect(cells[4]).toBe("2");
    expect(await webhook.locator(".status-failed").count()).toBe(1);
    expect(await drift.locator("[data-testid=alert-action][data-kind=freeze] .status-done").count()).toBe(1);
    await expectNoErrors(page, errors);
    await shot(page, "monitoring-alerts");
  });

  it("clicking a window shows its drift table, and its link opens the prediction log of that window", async () => {
    const { page, errors, warnings } = await open(tab());
    const shifted = mon().shifted;
    const window = mon().windows.find((w) => iso(w.start) === iso(shifted.start));
    if (!window) throw new Error("the seed's shifted window is missing from its windows");
    await page.locator(`[data-testid=heatmap-cell][data-window="${key(shifted)}"]`).first().click();
    await poll(() => new URL(page.url()).searchParams.get("window")).toBe(key(shifted));
    const panel = page.locator("[data-testid=window-panel]");
    await panel.waitFor();
    expect(await panel.textContent()).toContain(`v${shifted.version}`);
    const drift = await panel
      .locator("[data-testid=window-drift-row]")
      .evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-column"), r.getAttribute("data-drifted")]));
    expect(drift[0]).toEqual([shifted.column, "true"]); // the drifted column first
    expect(drift.slice(1).map(([, d]) => d)).toEqual(["false", "false"]);
    expect(drift.map(([c]) => c).sort()).toEqual(mon().columns);
    await shot(page, "monitoring-window");

    const link = panel.locator("[data-testid=window-log-link]");
    const href = new URL((await link.getAttribute("href")) ?? "", "http://x");
    expect(href.pathname).toBe(`/models/${mon().model}/predictions`);
    expect(href.searchParams.get("since")).toBe(iso(window.start));
    expect(href.searchParams.get("until")).toBe(iso(window.end));
    expect(href.searchParams.get("version")).toBe(String(shifted.version));
    await link.click();
    const rows = page.locator("[data-testid=prediction-row]");
    await rows.first().waitFor();
    expect(await page.locator("[data-testid=log-between]").textContent()).toContain(iso(window.start).slice(0, 16).replace("T", " "));
    // the newest 100 of the window's predictions, all of them from v2 within the window
    const times = await rows.locator("td:nth-child(2)").allTextContents();
    expect(times.length).toBe(100);
    for (const t of times) {
      const at = Date.parse(`${t.replace(" ", "T")}Z`);
      expect(at).toBeGreaterThanOrEqual(Date.parse(window.start));
      expect(at).toBeLessThan(Date.parse(window.end));
    }
    expect(new Set(await rows.locator("td:nth-child(3)").allTextContents())).toEqual(new Set([`v${shifted.version}`]));
    await expectNoErrors(page, errors);
    expect(warnings).toEqual([]);
  });

  it("a model without a monitor shows the command that adds one", async () => {
    const model = seed().serving.model;
    const { page, errors } = await open(`/models/${model}?tab=monitoring`);
    const empty = page.locator("[data-testid=no-monitor]");
    await empty.waitFor();
    expect(await page.locator("[data-testid=monitor-command]").textContent()).toBe(`dockyard monitor add ${model}`);
    expect(await page.locator("[data-testid=drift-heatmap]").count()).toBe(0);
    await expectNoErrors(page, errors);
    await shot(page, "monitoring-none");
  });

  it("an unknown tab or monitor in the URL says so instead of showing something else silently", async () => {
    const { page } = await open(`/models/${mon().model}?tab=monitorin`);
    const notice = page.locator("[data-testid=unknown-tab]");
    await notice.waitFor();
    expect(await notice.textContent()).toContain("There is no tab “monitorin”");
    expect(await notice.textContent()).toContain("monitoring");

    const other = await open(tab("&monitor=nightly"));
    const unknown = other.page.locator("[data-testid=unknown-monitor]");
    await unknown.waitFor();
    expect(await unknown.textContent()).toContain("has no monitor “nightly” (its monitors are default)");
    expect(await other.page.locator("[data-testid=drift-heatmap]").count()).toBe(0);
    await expectNoErrors(other.page, other.errors);
  });
});
