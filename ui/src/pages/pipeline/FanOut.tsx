import { ITEM_ORDER, ITEM_STATUS, itemCounts } from "./logic";

const GRID_LIMIT = 2000;

/** A fan-out's items: counts by status, a proportion bar and one cell per item. */
export function FanOut({ itemsStatus, itemsTotal }: { itemsStatus: string; itemsTotal: number }) {
  const counts = itemCounts(itemsStatus, itemsTotal);
  if (counts.total === 0) return <p className="muted">No items.</p>;
  const cells = itemsStatus.padEnd(Math.min(counts.total, GRID_LIMIT), ".").slice(0, GRID_LIMIT);
  return (
    <div data-testid="fanout">
      <div className="fo-counts">
        <span>
          <b>{counts.total.toLocaleString("en-US")}</b> items
        </span>
        {ITEM_ORDER.map((status) =>
          counts[status] > 0 ? (
            <span key={status}>
              <i className={`seg-${status}`} /> {counts[status].toLocaleString("en-US")} {status === "succeeded" ? "done" : status}
            </span>
          ) : null,
        )}
      </div>
      <div className="fo-bar">
        {ITEM_ORDER.map((status) =>
          counts[status] > 0 ? <span key={status} className={`seg-${status}`} style={{ width: `${(100 * counts[status]) / counts.total}%` }} /> : null,
        )}
      </div>
      <div className={`fo-grid${counts.total > 400 ? " dense" : ""}`} aria-label="items by status">
        {[...cells].map((code, i) => {
          const status = ITEM_STATUS[code] ?? "pending";
          return <span key={i} className={`seg-${status}`} title={`item ${i}: ${status}`} />;
        })}
      </div>
      {counts.total > GRID_LIMIT && <p className="sp-note">showing the first {GRID_LIMIT.toLocaleString("en-US")} items</p>}
      <p className="sp-note">Per-item timings are not recorded; a failed item's error is the step's error.</p>
    </div>
  );
}
