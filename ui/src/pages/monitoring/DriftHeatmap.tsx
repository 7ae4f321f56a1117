// Drift per column and window: one row per compared column, one row group per model
// version, one cell per window coloured by how close the column came to its threshold.
// A drifted cell carries a mark (not colour alone); its title says method, statistic,
// threshold and p-value. Clicking a cell or a window's header opens that window.
import { Fragment } from "react";
import { type WindowResult, driftColor, driftSeverity, driftTitle, formatStat, heatmap, shortTime, windowKey } from "./logic";

export function DriftHeatmap({ windows, selected, onSelect }: { windows: WindowResult[]; selected: string | null; onSelect: (w: WindowResult) => void }) {
  const map = heatmap(windows);
  // a label on every column while they fit, else on every k-th
  const every = Math.max(1, Math.ceil(map.times.length / 24));
  const several = map.groups.length > 1;
  return (
    <div>
      <div className="mo-heat-wrap">
        <table className="mo-heat" data-testid="drift-heatmap">
          <thead>
            <tr>
              <th className="mo-heat-corner">column \ window (UTC)</th>
              {map.times.map((t, i) => (
                <th key={t} className="mo-heat-time" title={shortTime(t)}>
                  {i % every === 0 ? <span>{shortTime(t).slice(5)}</span> : null}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {map.groups.map((group) => (
              <Fragment key={group.version}>
                {(several || group.columns.length === 0) && (
                  <tr className="mo-heat-group" data-testid="heatmap-version" data-version={group.version}>
                    <th colSpan={map.times.length + 1}>
                      v{group.version} · {group.windows} window{group.windows === 1 ? "" : "s"}
                      {group.drifted > 0 ? `, ${group.drifted} with drift` : ", no drift"}
                      {group.columns.length === 0 && " · no column compared (too few rows per window)"}
                    </th>
                  </tr>
                )}
                {group.columns.map((column) => (
                  <tr key={column} data-testid="heatmap-row" data-version={group.version} data-column={column}>
                    <th className="mo-heat-column" title={column}>
                      {column}
                    </th>
                    {(group.cells.get(column) ?? []).map((cell, i) => {
                      if (!cell) return <td key={map.times[i]} className="mo-heat-none" />;
                      const key = windowKey(cell.window);
                      const c = cell.column;
                      const style = c ? driftColor(driftSeverity(c), c.drifted) : undefined;
                      return (
                        <td
                          key={map.times[i]}
                          className={`mo-heat-cell${c?.drifted ? " mo-drifted" : ""}${key === selected ? " mo-selected" : ""}${c ? "" : " mo-heat-skipped"}`}
                          style={style}
                          title={c ? driftTitle(c, cell.window) : `${column}: not compared in this window (${cell.window.rows} rows)`}
                          onClick={() => onSelect(cell.window)}
                          data-testid="heatmap-cell"
                          data-window={key}
                          data-drifted={c ? String(c.drifted) : "none"}
                          data-statistic={c ? formatStat(c.statistic) : ""}
                          aria-label={c ? `${column} ${shortTime(cell.window.start)}: ${c.drifted ? "drifted" : "no drift"}` : undefined}
                        >
                          {c?.drifted ? "▲" : ""}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
      <div className="mo-legend small muted">
        <span className="mo-swatch" style={driftColor(0, false)} /> far from the threshold
        <span className="mo-swatch" style={driftColor(0.95, false)} /> near it
        <span className="mo-swatch mo-drifted" style={driftColor(1.2, true)}>
          ▲
        </span>{" "}
        drifted
        <span className="mo-swatch mo-drifted" style={driftColor(3, true)}>
          ▲
        </span>{" "}
        far past it · a blank cell: the version served no traffic then · click a cell for the window's data
      </div>
    </div>
  );
}
