// The dataset's rules and the validation report of a version: each rule passed or failed,
// with the failing row count and example rows.
import { Fragment, useState } from "react";
import type { Schemas } from "../../api/client";
import { StatusBadge } from "../../components/StatusBadge";
import { formatNumber, formatTime } from "../../format";
import { type Rule, describeRule } from "./logic";

export function ValidationTab({ dataset, version }: { dataset: Schemas["Dataset"]; version: Schemas["Version"] }) {
  const report = version.validation;
  const rules = dataset.rules ?? [];
  if (!report) {
    return (
      <div data-testid="validation">
        <div className="ds-verdict">
          <StatusBadge status="unchecked" />
          <div>
            <div className="big">Not validated</div>
            <div className="muted">
              {rules.length
                ? `v${version.number} was added before the dataset had its rules; validating it again (dockyard data validate) checks it against them.`
                : "The dataset has no rules. Set some with ds.set_rules([...]) or `dockyard data rules`; new versions are then checked when they are added."}
            </div>
          </div>
        </div>
        {rules.length > 0 && <RulesTable rules={rules} />}
      </div>
    );
  }
  const failed = report.results.filter((r) => !r.passed).length;
  return (
    <div data-testid="validation">
      <div className={`ds-verdict ${report.passed ? "passed" : "failed"}`} data-testid="verdict">
        <StatusBadge status={report.passed ? "passed" : "failed"} />
        <div>
          <div className="big">
            {report.passed
              ? `All ${report.results.length} rules passed`
              : `${failed} of ${report.results.length} rules failed`}
          </div>
          <div className="muted small">
            checked {formatTime(report.checked_at)} UTC
            {!report.passed && (version.forced ? " · added with force: latest may still resolve to it" : " · `latest` skips this version")}
          </div>
        </div>
      </div>
      <div className="ds-table-wrap">
        <table className="data" data-testid="validation-table">
          <thead>
            <tr>
              <th>Result</th>
              <th>Rule</th>
              <th>Check</th>
              <th className="num">Failing rows</th>
              <th>Message</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {report.results.map((result, i) => (
              <ResultRow key={i} result={result} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function ResultRow({ result }: { result: Schemas["RuleResult"] }) {
  const [open, setOpen] = useState(!result.passed);
  const examples = result.examples ?? [];
  const columns = examples.length ? Array.from(new Set(examples.flatMap((e) => Object.keys(e)))) : [];
  const focus = ruleColumns(result.rule);
  return (
    <Fragment>
      <tr className={result.passed ? "" : "removed"} data-testid="rule-result">
        <td>
          <StatusBadge status={result.passed ? "passed" : "failed"} />
        </td>
        <td>
          <div>{result.rule.name || describeRule(result.rule)}</div>
          {result.rule.name && <div className="muted small">{describeRule(result.rule)}</div>}
        </td>
        <td>
          <span className="ds-kind">{result.rule.check.replace("_", " ")}</span>
        </td>
        <td className={`num ${result.failing_rows ? "ds-bad" : ""}`}>{result.failing_rows === null || result.failing_rows === undefined ? "" : formatNumber(result.failing_rows)}</td>
        <td>{result.message}</td>
        <td>
          {examples.length > 0 && (
            <button onClick={() => setOpen(!open)} className="small">
              {open ? "hide" : "show"} {examples.length} example{examples.length === 1 ? "" : "s"}
            </button>
          )}
        </td>
      </tr>
      {open && examples.length > 0 && (
        <tr className={result.passed ? "" : "removed"}>
          <td />
          <td colSpan={5}>
            <div className="ds-examples">
              <table className="data">
                <thead>
                  <tr>
                    {columns.map((c) => (
                      <th key={c}>{c}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {examples.map((e, j) => (
                    <tr key={j}>
                      {columns.map((c) => (
                        <td key={c} className={focus.has(c) ? "ds-bad ds-mono" : "ds-mono"}>
                          {show(e[c])}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </td>
        </tr>
      )}
    </Fragment>
  );
}

function RulesTable({ rules }: { rules: Rule[] }) {
  return (
    <div className="ds-table-wrap">
      <table className="data">
        <thead>
          <tr>
            <th>Rule</th>
            <th>Check</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((rule, i) => (
            <tr key={i}>
              <td>
                {rule.name || describeRule(rule)}
                {rule.name && <div className="muted small">{describeRule(rule)}</div>}
              </td>
              <td>
                <span className="ds-kind">{rule.check.replace("_", " ")}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ruleColumns(rule: Rule): Set<string> {
  if ("columns" in rule && Array.isArray(rule.columns)) return new Set(rule.columns);
  if ("column" in rule && typeof rule.column === "string") return new Set([rule.column]);
  return new Set();
}

export function show(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
