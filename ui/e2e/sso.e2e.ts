// Single sign-on: a server that signs people in through a real OpenID provider (the
// `oidc-provider` package on loopback). Someone the provider puts in a group signs in from the
// sign-in prompt, lands back where they were with their group's team's role, and signing out
// ends the session at the provider too.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Provider, freePort, freshHome, startDockyard, startProvider } from "./servers";
import { expectNoErrors, open, shot } from "./support";

let server: ChildProcess | undefined;
let provider: Provider | undefined;
let url = "";

beforeAll(async () => {
  const { home, run } = freshHome("dockyard-sso-");
  run(["users", "create", "ann", "--password-stdin"], "a passphrase long enough\n");
  run(["projects", "create", "fraud"]);
  run(["projects", "create", "secret-project"]);
  run(["teams", "create", "risk", "--sso-group", "risk-analysts"]);
  run(["projects", "grant", "fraud", "--team", "risk", "--role", "editor"]);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  provider = await startProvider({
    clientId: "dockyard-ui",
    clientSecret: "e2e-only-secret",
    dockyardUrl: url,
    accounts: { zoe: { groups: ["risk-analysts"] } },
  });
  server = await startDockyard(home, port, {
    DOCKYARD_OIDC_ISSUER: provider.issuer,
    DOCKYARD_OIDC_CLIENT_ID: "dockyard-ui",
    DOCKYARD_OIDC_CLIENT_SECRET: "e2e-only-secret",
    DOCKYARD_OIDC_SCOPES: "openid email profile groups",
    DOCKYARD_OIDC_LABEL: "Example SSO",
  });
}, 90_000);

afterAll(() => {
  server?.kill("SIGTERM");
  provider?.process.kill("SIGTERM");
});

describe("single sign-on", () => {
  it("signs in at the provider, shows what the group's team may read, and signs out there too", async () => {
    const { page, errors } = await open("/runs", url);
    const button = page.locator("[data-testid=sso-sign-in]").first(); // one per failed query
    await button.waitFor();
    expect(await button.textContent()).toBe("Sign in with Example SSO");
    await shot(page, "sso-prompt");
    await button.click();

    // the provider's own pages: its login form, then its consent
    await page.locator("input[name=login]").fill("zoe");
    await page.locator("input[name=password]").fill("anything");
    await page.locator("button[type=submit]").click();
    await page.getByRole("button", { name: "Continue" }).click();

    await page.waitForURL(`${url}/runs`);
    const account = page.locator("[data-testid=account]");
    await account.waitFor();
    expect(await account.textContent()).toContain("zoe");
    await page.goto("/");
    await page.getByText("fraud").first().waitFor();
    expect(await page.getByText("secret-project").count()).toBe(0);
    await expectNoErrors(page, errors);
    await shot(page, "sso-signed-in");

    // signing out is a write: it goes with the session's CSRF token, and the provider asks
    await account.locator("button").click();
    await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await page.waitForURL(`${url}/`);
    await page.locator("[data-testid=sso-sign-in]").first().waitFor();
    expect(await page.locator("[data-testid=account]").count()).toBe(0);
  });
});
