// Pieces the identity pages share: an inline problem, a two-step confirmation, a secret shown
// once, and the notice for a page only the server admin may use.
import { useState } from "react";
import { ErrorMessage } from "../../components/ErrorMessage";
import { needsAdmin } from "./logic";

/** The server's words for a failed change, inline beside the form that made it. */
export function Problem({ error }: { error: { message: string } | null | undefined }) {
  if (!error) return null;
  return (
    <div className="id-problem" role="alert" data-testid="problem">
      {error.message}
    </div>
  );
}

/** A button that asks before it acts: `label` first, then `question` with yes and no. */
export function ConfirmButton({
  label,
  name,
  question,
  yes,
  pending,
  onConfirm,
}: {
  label: string;
  /** the accessible name of the first button (e.g. "Revoke token ci") */
  name: string;
  question: string;
  yes: string;
  pending: boolean;
  onConfirm: () => void;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" aria-label={name} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span className="row" role="group" aria-label={question}>
      <span className="small">{question}</span>
      <button
        type="button"
        className="danger"
        disabled={pending}
        onClick={() => {
          onConfirm();
          setAsking(false);
        }}
      >
        {yes}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        No
      </button>
    </span>
  );
}

/** A new secret (an API token), shown once with a copy button until dismissed. */
export function SecretOnce({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  return (
    <section className="id-secret" data-testid="secret" aria-label={title}>
      <p>
        <strong>{title}</strong>
      </p>
      <p className="small">Copy it now: you will not see it again. Keep it like a password; use it as DOCKYARD_TOKEN.</p>
      <div className="row">
        <code data-testid="secret-value">{secret}</code>
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(secret);
              setCopied("copied");
            } catch {
              setCopied("the browser refused: select the token and copy it");
            }
          }}
        >
          Copy
        </button>
        {copied && <span className="small muted" role="status">{copied}</span>}
        <span className="spacer" />
        <button type="button" onClick={onDone}>
          Done, hide it
        </button>
      </div>
    </section>
  );
}

/** A page's failed query: "needs the server admin" for an admin-only one, else the error. */
export function AdminError({ error, what }: { error: unknown; what: string }) {
  if (needsAdmin(error))
    return (
      <div className="notice" role="status" data-testid="needs-admin">
        <strong>This page needs the server admin.</strong> {(error as Error).message}
      </div>
    );
  return <ErrorMessage error={error} what={what} />;
}
