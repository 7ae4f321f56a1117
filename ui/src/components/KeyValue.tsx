import type { ReactNode } from "react";

/** Two columns of names and values; empty tables say so. */
export function KeyValue({ rows, empty = "nothing recorded" }: { rows: [ReactNode, ReactNode][]; empty?: string }) {
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  return (
    <table className="kv">
      <tbody>
        {rows.map(([key, value], i) => (
          <tr key={i}>
            <th>{key}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
