import { Link, NavLink, Outlet, isRouteErrorResponse, useLocation, useRouteError } from "react-router";
import { ApiError, signOut, signedIn } from "./api/client";
import { useGet } from "./api/hooks";
import { ErrorMessage } from "./components/ErrorMessage";
import { SignIn } from "./components/SignIn";
import { type Me, isAdmin } from "./pages/identity/logic";

const SECTIONS: [string, string][] = [
  ["Projects", "/"],
  ["Runs", "/runs"],
  ["Datasets", "/datasets"],
  ["Models", "/models"],
  ["Deployments", "/deployments"],
  ["Features", "/features"],
  ["Pipelines", "/pipelines"],
  ["Audit", "/audit"],
];
const ADMIN_SECTIONS: [string, string][] = [
  ["Users", "/admin/users"],
  ["Teams", "/admin/teams"],
];

function Health() {
  const health = useGet<{ status: string; version: string; database: string }>("/health", {}, { staleTime: 60_000 });
  if (health.error) return <span className="health bad">server unreachable</span>;
  if (!health.data) return null;
  return (
    <span className="health" title={`database: ${health.data.database}`}>
      dockyard {health.data.version} · {health.data.database}
    </span>
  );
}

/** The caller as the server sees them (a 401 when this browser is not signed in). */
function useMe() {
  return useGet<Me>("/users/me", {}, { staleTime: 60_000 });
}

/** Who this browser is signed in as (with a token or a single sign-on session): a link to
 * their account (tokens, password), and signing out. */
function Account() {
  const me = useMe();
  if (!signedIn() || !me.data) return null;
  return (
    <span className="account" data-testid="account">
      <Link to="/account" title="your account: tokens and password">
        {me.data.name}
      </Link>
      {isAdmin(me.data) && " (admin)"} ·{" "}
      <Link to="/account?tab=tokens">your tokens</Link> ·{" "}
      <button
        type="button"
        className="link"
        onClick={() => void signOut()}
      >
        sign out
      </button>
    </span>
  );
}

/** One sign-in panel, above the page, when the server needs a credential this browser lacks. */
function SignInNeeded() {
  const me = useMe();
  if (!(me.error instanceof ApiError) || me.error.status !== 401) return null;
  return (
    <div className="error sign-in-panel" data-testid="sign-in-panel">
      <strong>Sign in to this server</strong>
      <SignIn />
    </div>
  );
}

export function Layout() {
  // the admin's pages are in the navigation only for the admin (the server refuses others anyway)
  const sections = isAdmin(useMe().data) ? [...SECTIONS, ...ADMIN_SECTIONS] : SECTIONS;
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">
          ⚓ dockyard
        </Link>
        <nav>
          {sections.map(([label, href]) => (
            <NavLink key={href} to={href} end={href === "/"}>
              {label}
            </NavLink>
          ))}
        </nav>
        <Account />
        <Health />
      </header>
      <main>
        <SignInNeeded />
        <Outlet />
      </main>
    </div>
  );
}

/** Shown for an unknown page or a crash while rendering: a message, never a blank screen. */
export function RouteError() {
  const error = useRouteError();
  const location = useLocation();
  const message = isRouteErrorResponse(error)
    ? error.status === 404
      ? `There is no page at ${location.pathname}.`
      : `${error.status} ${error.statusText}`
    : error;
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/" className="brand">
          ⚓ dockyard
        </Link>
      </header>
      <main>
        <ErrorMessage error={message instanceof Error ? message : new Error(String(message))} what="this page failed" />
        <p>
          <Link to="/">Back to the projects</Link>
        </p>
      </main>
    </div>
  );
}
