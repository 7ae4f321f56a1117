// Users, teams, a project's access and API tokens in the web UI, on a server with accounts of
// its own: the admin makes a user and a team, puts the user in it and grants the team editor
// on a project, and makes a token shown once; the new user then signs in and sees only what
// they may (no admin pages, the project's access read-only), makes a token, revokes it and
// changes their password.
import type { ChildProcess } from "node:child_process";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithAdmin } from "./servers";
import { expectNoErrors, open, poll, shot, signIn } from "./support";

const ADMIN_PASSWORD = "a passphrase long enough";
const BOB_PASSWORD = "bob's own long passphrase";
const BOB_NEW_PASSWORD = "bob's newer long passphrase";

let server: ChildProcess | undefined;
let url = "";

beforeAll(async () => {
  ({ url, server } = await startWithAdmin("dockyard-identity-", "ann", ADMIN_PASSWORD)); // the first user: the admin
}, 90_000);

afterAll(() => {
  server?.kill("SIGTERM");
});

/** GET /users/me with `token`: the answer's status and, if 200, the name. */
async function whoIs(token: string): Promise<[number, string | null]> {
  const response = await fetch(`${url}/api/v1/users/me`, { headers: { Authorization: `Bearer ${token}` } });
  return [response.status, response.ok ? ((await response.json()) as { name: string }).name : null];
}

const nav = (page: Page) => page.locator(".topbar nav");
const problem = (page: Page) => page.locator("[data-testid=problem]");

describe("users, teams, access and tokens", () => {
  it("the admin makes a user and a team, grants the team a role and makes a token shown once", async () => {
    const { page, errors } = await open("/", url);
    await signIn(page, "ann", ADMIN_PASSWORD);
    await nav(page).getByRole("link", { name: "Users" }).click();

    // a person with a password
    const newUser = page.getByRole("form", { name: "new user" });
    await newUser.getByLabel("Name", { exact: true }).fill("bob");
    await newUser.getByLabel("Email").fill("bob@example.com");
    await newUser.getByLabel("Initial password").fill(BOB_PASSWORD);
    await newUser.getByRole("button", { name: "Create user" }).click();
    await page.locator("[data-testid=user-row][data-user=bob]").waitFor();
    // the same name again: the server's words, inline
    await newUser.getByLabel("Name", { exact: true }).fill("bob");
    await newUser.getByRole("button", { name: "Create user" }).click();
    await poll(async () => await problem(page).textContent()).toContain("a user named 'bob' already exists");

    // a service account with its token, shown once
    await newUser.getByLabel("Name", { exact: true }).fill("ci-bot");
    await newUser.getByLabel("Kind").selectOption("service");
    expect(await newUser.getByLabel("Initial password").count()).toBe(0);
    await newUser.getByLabel("with an API token").check();
    await newUser.getByRole("button", { name: "Create user" }).click();
    const secret = page.locator("[data-testid=secret]");
    await secret.waitFor();
    expect(await secret.textContent()).toContain("you will not see it again");
    const botToken = (await page.locator("[data-testid=secret-value]").textContent()) ?? "";
    expect(await whoIs(botToken)).toEqual([200, "ci-bot"]);
    const bot = page.locator("[data-testid=user-row][data-user=ci-bot]");
    expect(await bot.textContent()).toContain("service account");
    await shot(page, "identity-users");
    await page.getByRole("button", { name: "Done, hide it" }).click();
    await poll(async () => await secret.count()).toBe(0);

    // disable and enable the service account (its token stops, then works again)
    await bot.getByRole("button", { name: "Disable ci-bot" }).click();
    await bot.getByRole("button", { name: "Yes, disable" }).click();
    await bot.getByRole("button", { name: "Enable ci-bot" }).waitFor();
    expect((await whoIs(botToken))[0]).toBe(401);
    await bot.getByRole("button", { name: "Enable ci-bot" }).click();
    await bot.getByRole("button", { name: "Disable ci-bot" }).waitFor();
    expect(await whoIs(botToken)).toEqual([200, "ci-bot"]);

    // a team with bob in it
    await nav(page).getByRole("link", { name: "Teams" }).click();
    const newTeam = page.getByRole("form", { name: "new team" });
    await newTeam.getByLabel("Team name").fill("risk");
    await newTeam.getByLabel("Description").fill("fraud and credit risk");
    await newTeam.getByRole("button", { name: "Create team" }).click();
    const risk = page.locator("[data-testid=team-row][data-team=risk]");
    await risk.waitFor();
    await risk.getByLabel("User to add to risk").fill("nobody");
    await risk.getByRole("button", { name: "Add to risk" }).click();
    await poll(async () => await problem(page).textContent()).toContain("no user named 'nobody'");
    await risk.getByLabel("User to add to risk").fill("bob");
    await risk.getByRole("button", { name: "Add to risk" }).click();
    await poll(async () => await risk.locator("[data-testid=members]").textContent()).toContain("bob");
    await risk.getByRole("button", { name: "Remove bob from risk" }).waitFor();
    await shot(page, "identity-teams");

    // a throwaway team, deleted after a confirmation
    await newTeam.getByLabel("Team name").fill("temp");
    await newTeam.getByRole("button", { name: "Create team" }).click();
    const temp = page.locator("[data-testid=team-row][data-team=temp]");
    await temp.getByRole("button", { name: "Delete team temp" }).click();
    await temp.getByRole("button", { name: "Yes, delete" }).click();
    await poll(async () => await temp.count()).toBe(0);

    // the team gets editor on fraud; an unknown user is refused inline
    await page.goto("/projects/fraud");
    const access = page.locator("[data-testid=access]");
    await access.waitFor();
    expect(await access.locator("[data-testid=access-mode]").textContent()).toContain("you may grant");
    const grant = access.getByRole("form", { name: "grant a role" });
    await grant.getByLabel("Grant to").selectOption("user");
    await grant.getByLabel("User", { exact: true }).fill("ghost");
    await grant.getByLabel("Role").selectOption("viewer");
    await grant.getByRole("button", { name: "Grant" }).click();
    await poll(async () => await access.locator("[data-testid=problem]").textContent()).toContain("no user named 'ghost'");
    await grant.getByLabel("Grant to").selectOption("team");
    await grant.getByLabel("Team", { exact: true }).fill("risk");
    await grant.getByLabel("Role").selectOption("editor");
    await grant.getByRole("button", { name: "Grant" }).click();
    const granted = access.locator("[data-testid=grant-row][data-subject='team:risk']");
    await granted.waitFor();
    expect(await granted.textContent()).toContain("editor");
    await expectNoErrors(page, errors);
    await shot(page, "identity-access-owner");

    // a token of ann's own, limited to fraud as editor: shown once, listed after
    await page.locator("[data-testid=account]").getByRole("link", { name: "your tokens" }).click();
    const newToken = page.getByRole("form", { name: "new token" });
    await newToken.getByLabel("Name").fill("ci");
    await newToken.getByLabel("Project").selectOption("fraud");
    await newToken.getByLabel("Role").selectOption("editor");
    await newToken.getByLabel("Expires").selectOption({ label: "in 90 days" });
    await newToken.getByRole("button", { name: "Create token" }).click();
    await secret.waitFor();
    expect(await secret.textContent()).toContain("you will not see it again");
    const ciToken = (await page.locator("[data-testid=secret-value]").textContent()) ?? "";
    expect(await whoIs(ciToken)).toEqual([200, "ann"]);
    const ci = page.locator("[data-testid=token-row][data-token=ci]");
    await ci.waitFor();
    expect(await ci.textContent()).toContain("fraud · editor");
    await shot(page, "identity-token-once");
    await page.reload();
    await ci.waitFor();
    expect(await secret.count()).toBe(0);
    expect(await page.content()).not.toContain(ciToken);
    expect(await ci.getAttribute("data-state")).toBe("active");
    await expectNoErrors(page, errors);
  });

  it("a member of the team sees only what they may, and manages their own tokens and password", async () => {
    const { page, errors } = await open("/", url);
    await signIn(page, "bob", BOB_PASSWORD);
    await page.getByText("fraud").first().waitFor(); // the project bob's team holds a role in
    expect(await nav(page).getByRole("link", { name: "Users" }).count()).toBe(0);
    expect(await nav(page).getByRole("link", { name: "Teams" }).count()).toBe(0);

    // the admin's page by its URL: the server's refusal, said plainly
    await page.goto("/admin/users");
    const needsAdmin = page.locator("[data-testid=needs-admin]");
    await needsAdmin.waitFor();
    expect(await needsAdmin.textContent()).toContain("This page needs the server admin");
    expect(await page.getByRole("form", { name: "new user" }).count()).toBe(0);
    await shot(page, "identity-needs-admin");

    // the project's access, read-only for an editor
    await page.goto("/projects/fraud");
    const access = page.locator("[data-testid=access]");
    await access.locator("[data-testid=grant-row][data-subject='team:risk']").waitFor();
    expect(await access.locator("[data-testid=access-mode]").textContent()).toContain("read-only: granting needs the owner role (you are editor here)");
    expect(await access.getByRole("form", { name: "grant a role" }).count()).toBe(0);
    expect(await access.getByRole("button", { name: /Revoke/ }).count()).toBe(0);
    await expectNoErrors(page, errors);
    await shot(page, "identity-access-editor");

    // a token, then revoked after a confirmation: it stops working at once
    await page.locator("[data-testid=account]").getByRole("link", { name: "your tokens" }).click();
    const newToken = page.getByRole("form", { name: "new token" });
    await newToken.getByLabel("Name").fill("laptop");
    await newToken.getByRole("button", { name: "Create token" }).click();
    const value = page.locator("[data-testid=secret-value]");
    await value.waitFor();
    const laptopToken = (await value.textContent()) ?? "";
    expect(await whoIs(laptopToken)).toEqual([200, "bob"]);
    // more than bob holds: refused inline with the server's words
    await newToken.getByLabel("Name").fill("too-much");
    await newToken.getByLabel("Project").selectOption("fraud");
    await newToken.getByLabel("Role").selectOption("owner");
    await newToken.getByRole("button", { name: "Create token" }).click();
    await poll(async () => await page.locator("[data-testid=problem]").textContent()).toContain("a token cannot be owner there");

    const laptop = page.locator("[data-testid=token-row][data-token=laptop]");
    await laptop.getByRole("button", { name: "Revoke token laptop" }).click();
    await laptop.getByRole("button", { name: "Yes, revoke" }).click();
    await poll(async () => await laptop.getAttribute("data-state")).toBe("revoked");
    expect(await laptop.getByRole("button", { name: /Revoke/ }).count()).toBe(0);
    expect((await whoIs(laptopToken))[0]).toBe(401);
    await expectNoErrors(page, errors);
    await shot(page, "identity-tokens");

    // the password: checked in the page first, then by the server, then changed
    await page.getByRole("tab", { name: "Password" }).click();
    const change = page.getByRole("form", { name: "change password" });
    await change.getByLabel("Current password").fill(BOB_PASSWORD);
    await change.getByLabel("New password", { exact: true }).fill(BOB_NEW_PASSWORD);
    await change.getByLabel("New password again").fill("something else entirely");
    await change.getByRole("button", { name: "Change password" }).click();
    await poll(async () => await page.locator("[data-testid=problem]").textContent()).toContain("differ");
    await change.getByLabel("Current password").fill("not bob's passphrase");
    await change.getByLabel("New password again").fill(BOB_NEW_PASSWORD);
    await change.getByRole("button", { name: "Change password" }).click();
    await poll(async () => await page.locator("[data-testid=problem]").textContent()).toContain("the current password is not right");
    await change.getByLabel("Current password").fill(BOB_PASSWORD);
    await change.getByRole("button", { name: "Change password" }).click();
    await page.getByRole("status").filter({ hasText: "Your password is changed" }).waitFor();

    await page.locator("[data-testid=account]").getByRole("button", { name: "sign out" }).click();
    await signIn(page, "bob", BOB_NEW_PASSWORD);
    await expectNoErrors(page, errors);
  });
});
