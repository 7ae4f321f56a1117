import { useState } from "react";
import { API_PREFIX, ApiError, errorOf, setToken } from "../api/client";

const TITLES: Record<number, string> = {
  0: "The server could not be reached",
  401: "Sign in to this server",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  422: "Invalid input",
};

/** The text of a query with a caret under `position` (for search errors). */
export function Caret({ text, position }: { text: string; position: number }) {
  return (
    <pre className="caret" data-testid="query-caret">
      {text}
      {"\n"}
      {" ".repeat(Math.max(0, Math.min(position, text.length)))}^
    </pre>
  );
}

/** A readable message for any failure: what went wrong and, where the server says, what to fix. */
export function ErrorMessage({ error, what }: { error: unknown; what?: string }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : null;
  const title = api ? (TITLES[api.status] ?? (api.status >= 500 ? "Server error" : "Request failed")) : "Something went wrong";
  const message = error instanceof Error ? error.message : String(error);
  const query = api && typeof api.details.query === "string" ? api.details.query : null;
  return (
    <div className="error" role="alert" data-testid="error">
      <strong>
        {title}
        {what ? `: ${what}` : ""}
      </strong>
      <div className="error-message">{message}</div>
      {query !== null && api?.position !== undefined && <Caret text={query} position={api.position} />}
      {api?.status === 401 && <SignIn />}
    </div>
  );
}

/** A password sign-in (a 30-day API token, kept in this browser) or a token pasted in. */
function SignIn() {
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div className="sign-in">
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
            setToken(made.token);
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

export function Loading({ what = "" }: { what?: string }) {
  return (
    <div className="loading" data-testid="loading">
      Loading{what ? ` ${what}` : ""}…
    </div>
  );
}

/** Loading, error or content of one query. */
export function Pending({ query, what }: { query: { isPending: boolean; error: unknown }; what?: string }) {
  if (query.error) return <ErrorMessage error={query.error} what={what} />;
  if (query.isPending) return <Loading what={what} />;
  return null;
}
