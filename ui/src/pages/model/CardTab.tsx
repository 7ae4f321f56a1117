// The model card of a version: its HTML in a sandboxed frame (no scripts run), or its
// Markdown source, which can be downloaded.
import { useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { type Schemas, seg } from "../../api/client";
import { useGet } from "../../api/hooks";
import { Pending } from "../../components/ErrorMessage";

/** The card's HTML using the frame's width, long cells wrapping so that wide tables (the
 * evaluations, with a column per metric) fit; a table still wider scrolls, never cut off. */
function fitting(html: string): string {
  const style =
    "<style>body{padding:0 1.5rem;max-width:none}table{display:block;overflow-x:auto;max-width:100%}" +
    "td,th{overflow-wrap:anywhere;min-width:3.5rem}</style>";
  return html.includes("</head>") ? html.replace("</head>", `${style}</head>`) : style + html;
}

export function CardTab({ name, version }: { name: string; version: number }) {
  const [params, setParams] = useSearchParams();
  const view = params.get("view") === "markdown" ? "markdown" : "html";
  const card = useGet<Schemas["ModelCard"]>(`/models/${seg(name)}/versions/${version}/card`);
  const frame = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(640);
  const pick = (next: string) =>
    setParams(
      (old) => {
        const p = new URLSearchParams(old);
        if (next === "html") p.delete("view");
        else p.set("view", next);
        return p;
      },
      { replace: true },
    );
  const download = () => {
    if (!card.data) return;
    const url = URL.createObjectURL(new Blob([card.data.markdown], { type: "text/markdown" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${name}-v${version}-card.md`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div data-testid="model-card">
      <div className="md-card-bar">
        <div className="md-seg" role="group">
          <button className={view === "html" ? "active" : ""} onClick={() => pick("html")}>
            Rendered
          </button>
          <button className={view === "markdown" ? "active" : ""} onClick={() => pick("markdown")}>
            Markdown
          </button>
        </div>
        <span className="spacer" />
        <button onClick={download} disabled={!card.data}>
          Download .md
        </button>
      </div>
      <Pending query={card} what="the model card" />
      {card.data &&
        (view === "html" ? (
          <iframe
            ref={frame}
            className="md-card-frame"
            title={`model card of ${name} v${version}`}
            // no allow-scripts: the card's HTML cannot run code; same origin only lets us measure it
            sandbox="allow-same-origin"
            srcDoc={fitting(card.data.html)}
            style={{ height }}
            data-testid="card-frame"
            onLoad={() => {
              const doc = frame.current?.contentDocument;
              if (doc?.documentElement) setHeight(Math.max(400, doc.documentElement.scrollHeight + 24));
            }}
          />
        ) : (
          <pre className="md-markdown" data-testid="card-markdown">
            {card.data.markdown}
          </pre>
        ))}
    </div>
  );
}
