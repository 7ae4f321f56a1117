// Every event of a model, newest first: alias moves, traffic changes, freezes and unfreezes.
import { type Schemas, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";
import { Move } from "./AliasesTab";
import { orderHistory } from "./logic";

export function HistoryTab({ name }: { name: string }) {
  const history = useGet<Schemas["AliasMove"][]>(`/models/${seg(name)}/history`);
  const events = orderHistory(history.data ?? []);
  return (
    <div data-testid="model-history">
      <Pending query={history} what="the model's history" />
      {history.data && events.length === 0 && <p className="muted">Nothing has happened to this model's aliases yet.</p>}
      <ol className="md-timeline">
        {events.map((move, i) => (
          <Move key={i} name={name} move={move} showAlias />
        ))}
      </ol>
    </div>
  );
}
