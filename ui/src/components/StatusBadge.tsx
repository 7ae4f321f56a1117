/** A run, step or pipeline status as a coloured pill. */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return null;
  return <span className={`status status-${status}`}>{status}</span>;
}
