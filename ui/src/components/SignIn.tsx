// Signing in: single sign-on (when the server has it), a password (a 30-day API token, kept in
// this browser) or a token pasted in.
import { useState } from "react";
import { API_PREFIX, errorOf, setToken } from "../api/client";
import { useGet } from "../api/hooks";

type SignInMethods = { password: boolean; sso: { label: string; login: string } | null };

/** Single sign-on (when the server has it), a password sign-in (a 30-day API token, kept in
 * this browser) or a token pasted in. */
export function SignIn() {
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const methods = useGet<SignInMethods>("/auth/methods", {}, { staleTime: 300_000 });
  const sso = methods.data?.sso;
  const here = `${window.location.pathname}${window.location.search}`;
  return (
    <div className="sign-in">
      {sso && (
        <p>
          <a className="button primary" data-testid="sso-sign-in" href={`${sso.login}?next=${encodeURIComponent(here)}`}>
            Sign in with {sso.label}
          </a>
        </p>
      )}
      <form
        className="token-form"
        data-testid="login-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const data = new FormData(event.currentTarget);
          setBusy(true);
          setProblem(null);
          try {
            const response = await fetch(`${API_PREFIX}/auth/login`, {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ user: String(data.get("user") ?? ""), password: String(data.get("password") ?? ""), name: "web" }),
            });
            if (!response.ok) {
              setProblem((await errorOf(response)).message);
              return;
            }
            const made = (await response.json()) as { token: string };
            setToken(made.token, true);
            window.location.reload();
          } catch (error) {
            setProblem(error instanceof Error ? error.message : String(error));
          } finally {
            setBusy(false);
          }
        }}
      >
        <input name="user" autoComplete="username" placeholder="user" aria-label="user" required />
        <input name="password" type="password" autoComplete="current-password" placeholder="password" aria-label="password" required />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      {problem && (
        <div className="error-message" data-testid="login-problem">
          {problem}
        </div>
      )}
      <form
        className="token-form"
        data-testid="token-form"
        onSubmit={(event) => {
          event.preventDefault();
          setToken(String(new FormData(event.currentTarget).get("token") ?? ""));
          window.location.reload();
        }}
      >
        <input name="token" type="password" placeholder="or an API token (DOCKYARD_TOKEN)" aria-label="API token" />
        <button type="submit">Use token</button>
      </form>
    </div>
  );
}

