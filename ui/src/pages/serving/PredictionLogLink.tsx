// A link to a model's prediction log, shown only when servers logged predictions of it in
// the last 30 days (for the model page).
import { Link } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import "./serving.css";

const HOUR = 3_600_000;
const LOOK_BACK = 30 * 24 * HOUR;

export function PredictionLogLink({ name }: { name: string }) {
  // since is rounded to the hour so that the query stays the same while the page is open
  const from = new Date(Math.floor(Date.now() / HOUR) * HOUR - LOOK_BACK).toISOString();
  const log = useGet<Schemas["PredictionPage"]>("/serving/predictions", { model: name, since: from, limit: 1 }, { staleTime: 60_000, retry: false });
  if (!log.data?.predictions.length) return null;
  return (
    <Link className="sv-loglink" to={`/models/${seg(name)}/predictions?range=7d`} data-testid="prediction-log-link">
      Prediction log
    </Link>
  );
}
