// Servers a spec starts for itself (beside the shared, seeded one of global-setup): a
// `dockyard server` on a fresh home, and the OpenID provider of the single sign-on tests.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const python = process.env.DOCKYARD_PYTHON ?? resolve(here, "../../.venv/bin/python");
const dockyardCli = resolve(dirname(python), "dockyard");

/** A port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A fresh dockyard home, and `dockyard --home HOME ...` run in it (stdin: `input`). */
export function freshHome(prefix: string): { home: string; run: (args: string[], input?: string) => string } {
  const home = mkdtempSync(join(tmpdir(), prefix));
  const env = { ...process.env, DOCKYARD_URL: "", DOCKYARD_TOKEN: "" };
  const run = (args: string[], input?: string): string => {
    const done = spawnSync(dockyardCli, ["--home", home, ...args], { input, env, encoding: "utf8" });
    if (done.status !== 0) throw new Error(`dockyard ${args.join(" ")} failed: ${done.stderr}`);
    return done.stdout;
  };
  return { home, run };
}

/** `dockyard server` over `home` on `port`, once it answers; stop it with kill(). */
export async function startDockyard(home: string, port: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(dockyardCli, ["--home", home, "server", "--port", String(port)], {
    env: { ...process.env, DOCKYARD_URL: "", DOCKYARD_TOKEN: "", ...env },
    stdio: "ignore",
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) return server;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  server.kill("SIGTERM");
  throw new Error(`the dockyard server on ${url} did not start`);
}

/** A `dockyard server` on a fresh home whose first account (the admin) is `admin` with
 * `password`, and a project `fraud`; its URL, and the process to kill. */
export async function startWithAdmin(prefix: string, admin: string, password: string): Promise<{ url: string; server: ChildProcess }> {
  const { home, run } = freshHome(prefix);
  run(["users", "create", admin, "--password-stdin"], `${password}\n`);
  run(["projects", "create", "fraud"]);
  const port = await freePort();
  return { url: `http://127.0.0.1:${port}`, server: await startDockyard(home, port) };
}

export interface Provider {
  issuer: string;
  process: ChildProcess;
}

/** The OpenID provider of e2e/oidc/provider.mjs for one client, knowing `accounts`' groups. */
export async function startProvider(options: {
  clientId: string;
  clientSecret: string;
  dockyardUrl: string;
  accounts: Record<string, { groups: string[] }>;
}): Promise<Provider> {
  const accounts = join(mkdtempSync(join(tmpdir(), "dockyard-oidc-")), "accounts.json");
  writeFileSync(accounts, JSON.stringify(options.accounts));
  const child = spawn(process.execPath, [resolve(here, "oidc/provider.mjs")], {
    env: {
      ...process.env,
      OIDC_CLIENT_ID: options.clientId,
      OIDC_CLIENT_SECRET: options.clientSecret,
      OIDC_REDIRECT_URI: `${options.dockyardUrl}/api/v1/auth/oidc/callback`,
      OIDC_LOGOUT_URI: `${options.dockyardUrl}/`,
      OIDC_ACCOUNTS_FILE: accounts,
    },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) {
    if (line.startsWith("{")) return { issuer: (JSON.parse(line) as { issuer: string }).issuer, process: child };
  }
  throw new Error("the OpenID provider did not start");
}
