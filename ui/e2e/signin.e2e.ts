// Signing in: a server with an account (its own `dockyard server` on a fresh home, not the
// shared open one) asks for a password, refuses a wrong one with the server's words, and
// after the right one shows the pages, who is signed in, and the audit log of both
// sign-ins, until signing out.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithAdmin } from "./servers";
import { expectNoErrors, open, shot } from "./support";

const PASSWORD = "a passphrase long enough";

let server: ChildProcess | undefined;
let url = "";

beforeAll(async () => {
  ({ url, server } = await startWithAdmin("dockyard-signin-", "ann", PASSWORD));
}, 90_000);

afterAll(() => {
  server?.kill("SIGTERM");
});

describe("signing in", () => {
  it("asks for a password, refuses a wrong one, and shows the pages after the right one", async () => {
    const { page, errors } = await open("/", url);
    const form = page.locator("[data-testid=login-form]");
    await form.waitFor();
    expect(await page.locator("[data-testid=error] strong").textContent()).toContain("Sign in to this server");
    await form.locator("input[name=user]").fill("ann");
    await form.locator("input[name=password]").fill("not the passphrase");
    await form.locator("button[type=submit]").click();
    const problem = page.locator("[data-testid=login-problem]");
    await problem.waitFor();
    expect(await problem.textContent()).toContain("the user name or the password is not right");
    await shot(page, "signin-refused");

    await form.locator("input[name=password]").fill(PASSWORD);
    await form.locator("button[type=submit]").click();
    const account = page.locator("[data-testid=account]");
    await account.waitFor();
    expect(await account.textContent()).toContain("ann");
    await page.getByText("fraud").first().waitFor(); // the projects page, now readable
    await expectNoErrors(page, errors);
    await shot(page, "signin-signed-in");

    // the audit log (ann is the admin: the first account) shows both sign-ins
    await page.goto("/audit?operation=identity.login");
    const rows = page.locator("[data-testid=audit-row]");
    await rows.nth(1).waitFor();
    const texts = await rows.allTextContents();
    expect(texts[0]).toContain("ann");
    expect(texts[0]).toContain("identity.login");
    expect(await rows.nth(0).getAttribute("data-outcome")).toBe("ok");
    expect(await rows.nth(1).getAttribute("data-outcome")).toBe("denied");
    expect(texts[1]).toContain("denied (401)");
    await page.locator("select[aria-label=outcome]").selectOption("denied");
    await expect.poll(async () => await rows.count(), { timeout: 20_000 }).toBe(1);
    // a time range: nothing from the future, everything since yesterday
    await page.locator("input[aria-label=since]").fill("2099-01-01T00:00");
    await page.locator("[data-testid=audit-empty]").waitFor();
    expect(page.url()).toContain("since=2099-01-01");
    const yesterday = new Date(Date.now() - 86_400_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.locator("input[aria-label=since]").fill(yesterday);
    await expect.poll(async () => await rows.count(), { timeout: 20_000 }).toBe(1);
    await expectNoErrors(page, errors);
    await shot(page, "audit-log");

    // signing out revokes the token this sign-in made (a token pasted in would only be forgotten)
    const token = await page.evaluate(() => localStorage.getItem("dockyard.token"));
    expect(token).toMatch(/^dy_/);
    await page.locator("[data-testid=account] button").click();
    await page.locator("[data-testid=login-form]").waitFor();
    const after = await fetch(`${url}/api/v1/users/me`, { headers: { Authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
  });
});
