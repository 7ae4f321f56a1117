// A box to paste a prediction id into (or a trace URL, or a line that holds one): opens its trace.
import { useState } from "react";
import { useNavigate } from "react-router";
import { parsePredictionId } from "./logic";

export function TraceSearch() {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState("");
  return (
    <form
      className="sv-search"
      data-testid="trace-search"
      onSubmit={(event) => {
        event.preventDefault();
        const id = parsePredictionId(text);
        if (!id) {
          setProblem(text.trim() ? "a prediction id is 32 hexadecimal characters" : "paste a prediction id");
          return;
        }
        setProblem("");
        navigate(`/predictions/${id}`);
      }}
    >
      <input
        type="search"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setProblem("");
        }}
        placeholder="Trace a prediction: paste its id"
        aria-label="prediction id"
        data-testid="trace-input"
      />
      <button type="submit">Trace</button>
      {problem && (
        <span className="sv-search-error" role="status" data-testid="trace-problem">
          {problem}
        </span>
      )}
    </form>
  );
}
