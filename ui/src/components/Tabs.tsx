import type { ReactNode } from "react";
import { useSearchParams } from "react-router";

export interface Tab {
  id: string;
  label: ReactNode;
  render: () => ReactNode;
}

/** Tabs whose choice lives in the URL (?tab=id), so a tab can be linked to. */
export function Tabs({ tabs, param = "tab" }: { tabs: Tab[]; param?: string }) {
  const [params, setParams] = useSearchParams();
  const wanted = params.get(param);
  const found = tabs.find((tab) => tab.id === wanted);
  const current = found ?? tabs[0];
  return (
    <div className="tabs">
      <nav className="tab-bar" role="tablist">
        {tabs.map((tab) => (
          <button
            key={tab.id}
            role="tab"
            aria-selected={tab.id === current.id}
            className={tab.id === current.id ? "active" : ""}
            onClick={() =>
              setParams(
                (old) => {
                  const next = new URLSearchParams(old);
                  next.set(param, tab.id);
                  return next;
                },
                { replace: true },
              )
            }
          >
            {tab.label}
          </button>
        ))}
      </nav>
      {wanted !== null && !found && (
        <p className="notice" role="status" data-testid="unknown-tab">
          There is no tab “{wanted.slice(0, 80)}” here (the tabs are {tabs.map((tab) => tab.id).join(", ")}); showing {current.id}.
        </p>
      )}
      <div className="tab-body" role="tabpanel">
        {current.render()}
      </div>
    </div>
  );
}
