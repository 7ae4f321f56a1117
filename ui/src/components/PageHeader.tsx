import type { ReactNode } from "react";
import { Link } from "react-router";

/** Breadcrumbs, a title and actions at the top of a page. */
export function PageHeader({
  crumbs = [],
  title,
  children,
}: {
  crumbs?: [string, string][];
  title: ReactNode;
  children?: ReactNode;
}) {
  return (
    <header className="page-header">
      {crumbs.length > 0 && (
        <nav className="crumbs">
          {crumbs.map(([label, href], i) => (
            <span key={href}>
              {i > 0 && " / "}
              <Link to={href}>{label}</Link>
            </span>
          ))}
        </nav>
      )}
      <div className="page-title">
        <h1>{title}</h1>
        <div className="page-actions">{children}</div>
      </div>
    </header>
  );
}
