import { ApiError } from "../api/client";

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
      {api?.status === 401 && <div className="muted">Sign in at the top of the page.</div>}
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
