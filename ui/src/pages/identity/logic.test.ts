import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/client";
import {
  type Me,
  grantBody,
  isAdmin,
  mayManageGrants,
  needsAdmin,
  orderTokens,
  passwordProblem,
  roleIn,
  tokenBody,
  tokenScope,
  tokenState,
} from "./logic";

const me = (role: Me["role"], projects: Me["projects"] = {}): Me => ({ name: "ann", kind: "user", role, projects, may_create_projects: true });

describe("who may do what", () => {
  it("knows the admin by the server-wide role", () => {
    expect(isAdmin(me("admin"))).toBe(true);
    expect(isAdmin(me(null, { fraud: "owner" }))).toBe(false);
    expect(isAdmin(me("maintainer"))).toBe(false);
    expect(isAdmin(undefined)).toBe(false);
  });

  it("takes the stronger of the server-wide role and the project's grant", () => {
    expect(roleIn(me(null, { fraud: "editor" }), "fraud")).toBe("editor");
    expect(roleIn(me("maintainer", { fraud: "viewer" }), "fraud")).toBe("maintainer");
    expect(roleIn(me("viewer", { fraud: "owner" }), "fraud")).toBe("owner");
    expect(roleIn(me(null, { fraud: "owner" }), "retail")).toBeNull();
    expect(roleIn(null, "fraud")).toBeNull();
  });

  it("lets owners and the admin manage grants, nobody else", () => {
    expect(mayManageGrants(me(null, { fraud: "owner" }), "fraud")).toBe(true);
    expect(mayManageGrants(me("admin"), "fraud")).toBe(true);
    expect(mayManageGrants(me(null, { fraud: "maintainer" }), "fraud")).toBe(false);
    expect(mayManageGrants(me("maintainer"), "fraud")).toBe(false); // the open server's caller
    expect(mayManageGrants(me(null, { retail: "owner" }), "fraud")).toBe(false);
  });

  it("recognises the admin's refusal, not any 403", () => {
    const admin = new ApiError(403, "forbidden", "GET /users (identity.list_users) needs the admin role, and 'bob' has no role on the whole server", { needed: "admin", role: null });
    expect(needsAdmin(admin)).toBe(true);
    expect(needsAdmin(new ApiError(403, "forbidden", "needs the owner role in project 'fraud'", { needed: "owner" }))).toBe(false);
    expect(needsAdmin(new ApiError(404, "not_found", "no user"))).toBe(false);
    expect(needsAdmin(new Error("x"))).toBe(false);
  });
});

describe("tokens", () => {
  const now = Date.parse("2030-01-10T00:00:00Z");
  const token = (over: Partial<Parameters<typeof orderTokens>[0][number]>) => ({
    id: "t",
    name: "t",
    user: "ann",
    project: null,
    role: null,
    created_at: "2030-01-01T00:00:00",
    expires_at: null,
    revoked_at: null,
    last_used_at: null,
    ...over,
  });

  it("is active until it expires or is revoked (naive times are UTC)", () => {
    expect(tokenState(token({}), now)).toBe("active");
    expect(tokenState(token({ expires_at: "2030-01-11T00:00:00" }), now)).toBe("active");
    expect(tokenState(token({ expires_at: "2030-01-09T23:59:59" }), now)).toBe("expired");
    expect(tokenState(token({ expires_at: "2030-01-09T00:00:00", revoked_at: "2030-01-05T00:00:00" }), now)).toBe("revoked");
  });

  it("says what a token is limited to", () => {
    expect(tokenScope({ project: "fraud", role: "editor" })).toBe("fraud · editor");
    expect(tokenScope({ project: "fraud", role: null })).toBe("fraud only");
    expect(tokenScope({ project: null, role: "viewer" })).toBe("at most viewer");
    expect(tokenScope({ project: null, role: null })).toBe("all your roles");
  });

  it("lists working tokens first, newest first", () => {
    const tokens = [
      token({ id: "old", created_at: "2030-01-01T00:00:00" }),
      token({ id: "revoked", created_at: "2030-01-08T00:00:00", revoked_at: "2030-01-09T00:00:00" }),
      token({ id: "new", created_at: "2030-01-05T00:00:00" }),
      token({ id: "expired", created_at: "2030-01-09T00:00:00", expires_at: "2030-01-09T12:00:00Z" }),
    ];
    expect(orderTokens(tokens, now).map((t) => t.id)).toEqual(["new", "old", "expired", "revoked"]);
  });

  it("sends only the limits chosen", () => {
    expect(tokenBody(" ci ", "", "", null)).toEqual({ name: "ci" });
    expect(tokenBody("ci", "fraud", "editor", 7_776_000)).toEqual({ name: "ci", project: "fraud", role: "editor", expires_in: 7_776_000 });
  });
});

describe("forms", () => {
  it("checks a new password's length and its repetition before asking the server", () => {
    expect(passwordProblem("short", "short")).toContain("at least 12");
    expect(passwordProblem("a long passphrase", "a long passphrasE")).toContain("differ");
    expect(passwordProblem("a long passphrase", "a long passphrase")).toBeNull();
  });

  it("grants to a user or to a team, never both", () => {
    expect(grantBody("user", " bob ", "owner")).toEqual({ user: "bob", role: "owner" });
    expect(grantBody("team", "risk", "editor")).toEqual({ team: "risk", role: "editor" });
  });
});
