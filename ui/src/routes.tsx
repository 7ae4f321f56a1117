// Every page has a URL that can be shared; pages load on first visit (code-split).
import type { RouteObject } from "react-router";
import { Layout, RouteError } from "./Layout";

const page = (load: () => Promise<{ default: React.ComponentType }>) => async () => ({ Component: (await load()).default });

export const routes: RouteObject[] = [
  {
    path: "/",
    element: <Layout />,
    errorElement: <RouteError />,
    // shown while the first page's code loads (without it the router warns on every page)
    hydrateFallbackElement: <p className="muted">Loading…</p>,
    children: [
      { index: true, lazy: page(() => import("./pages/Projects")) },
      { path: "projects/:project", lazy: page(() => import("./pages/Project")) },
      { path: "runs", lazy: page(() => import("./pages/Runs")) },
      { path: "runs/:runId", lazy: page(() => import("./pages/Run")) },
      { path: "compare", lazy: page(() => import("./pages/Compare")) },
      { path: "datasets", lazy: page(() => import("./pages/Datasets")) },
      { path: "datasets/:project/:dataset", lazy: page(() => import("./pages/Dataset")) },
      { path: "models", lazy: page(() => import("./pages/Models")) },
      { path: "models/:name", lazy: page(() => import("./pages/Model")) },
      { path: "models/:name/predictions", lazy: page(() => import("./pages/serving/PredictionLog")) },
      { path: "deployments", lazy: page(() => import("./pages/serving/Deployments")) },
      { path: "predictions/:id", lazy: page(() => import("./pages/serving/PredictionTrace")) },
      { path: "features", lazy: page(() => import("./pages/FeatureViews")) },
      { path: "features/:project/:view", lazy: page(() => import("./pages/FeatureView")) },
      { path: "pipelines", lazy: page(() => import("./pages/PipelineRuns")) },
      { path: "pipelines/:runId", lazy: page(() => import("./pages/PipelineRun")) },
      { path: "audit", lazy: page(() => import("./pages/Audit")) },
      { path: "account", lazy: page(() => import("./pages/identity/Account")) },
      { path: "admin/users", lazy: page(() => import("./pages/identity/Users")) },
      { path: "admin/teams", lazy: page(() => import("./pages/identity/Teams")) },
      { path: "*", lazy: page(() => import("./pages/NotFound")) },
    ],
  },
];
