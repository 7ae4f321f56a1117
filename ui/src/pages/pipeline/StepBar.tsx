import type { StepCounts } from "./logic";
import "./pipeline.css";

const ORDER: (keyof StepCounts)[] = ["succeeded", "cached", "running", "failed", "pending", "skipped", "cancelled"];

/** The steps of a pipeline run as a segmented bar and "5 done · 1 cached · 0 failed". */
export function StepBar({ counts, compact = false }: { counts: StepCounts; compact?: boolean }) {
  const total = Math.max(1, counts.total);
  const done = counts.succeeded + counts.cached;
  const title = ORDER.filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} ${k}`)
    .join(", ");
  return (
    <span className="stepbar" title={title || "no steps"} data-testid="stepbar">
      <span className="stepbar-track">
        {ORDER.map((k) =>
          counts[k] > 0 ? <span key={k} className={`seg-${k}`} style={{ width: `${(100 * counts[k]) / total}%` }} /> : null,
        )}
      </span>
      <span className="stepbar-text">
        <b>
          {done}/{counts.total}
        </b>{" "}
        done
        {!compact && counts.cached > 0 && <span className="cached"> · {counts.cached} cached</span>}
        {counts.running > 0 && <span> · {counts.running} running</span>}
        {counts.failed > 0 && <span className="bad"> · {counts.failed} failed</span>}
      </span>
    </span>
  );
}
