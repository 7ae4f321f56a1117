// A run's flat artifact list as a folder tree, and how each file is previewed.

export interface ArtifactFile {
  path: string;
  size: number;
  media_type: string;
  digest: string;
}

export interface TreeNode {
  name: string;
  /** Folder paths end with "/"; file paths are the artifact's path. */
  path: string;
  kind: "folder" | "file";
  /** A folder holding a model manifest (model.json) next to its files. */
  model: boolean;
  size: number;
  files: number;
  children: TreeNode[];
  file?: ArtifactFile;
}

/** The tree of `files` under a root folder (path ""): folders first, then files, by name. */
export function buildTree(files: readonly ArtifactFile[]): TreeNode {
  const root: TreeNode = { name: "", path: "", kind: "folder", model: false, size: 0, files: 0, children: [] };
  const folders = new Map<string, TreeNode>([["", root]]);
  for (const file of files) {
    const parts = file.path.split("/").filter(Boolean);
    if (parts.length === 0) continue;
    let parent = root;
    let prefix = "";
    for (const part of parts.slice(0, -1)) {
      prefix += `${part}/`;
      let folder = folders.get(prefix);
      if (!folder) {
        folder = { name: part, path: prefix, kind: "folder", model: false, size: 0, files: 0, children: [] };
        folders.set(prefix, folder);
        parent.children.push(folder);
      }
      parent = folder;
    }
    const name = parts[parts.length - 1];
    parent.children.push({ name, path: file.path, kind: "file", model: false, size: file.size, files: 1, children: [], file });
    if (name === "model.json" && parent !== root) parent.model = true;
  }
  const finish = (node: TreeNode): void => {
    if (node.kind === "file") return;
    node.children.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "folder" ? -1 : 1));
    node.size = 0;
    node.files = 0;
    for (const child of node.children) {
      finish(child);
      node.size += child.size;
      node.files += child.files;
    }
  };
  finish(root);
  return root;
}

/** The folder paths above `path` ("a/b/c.txt" -> ["a/", "a/b/"]). */
export function ancestors(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  const out: string[] = [];
  let prefix = "";
  for (const part of parts.slice(0, path.endsWith("/") ? parts.length : -1)) {
    prefix += `${part}/`;
    out.push(prefix);
  }
  return out;
}

/** The node at `path` (a file, or a folder ending with "/"), if any. */
export function findNode(root: TreeNode, path: string): TreeNode | null {
  if (path === "" || path === "/") return root;
  let node: TreeNode | undefined = root;
  for (const folder of ancestors(path)) {
    node = node?.children.find((c) => c.path === folder);
    if (!node) return null;
  }
  if (path.endsWith("/")) return node ?? null;
  return node?.children.find((c) => c.path === path) ?? null;
}

/** Nodes shown for an expanded set, depth first, with their depth (for a flat list). */
export function visibleRows(root: TreeNode, expanded: ReadonlySet<string>, filter = ""): { node: TreeNode; depth: number }[] {
  const needle = filter.trim().toLowerCase();
  const rows: { node: TreeNode; depth: number }[] = [];
  const matches = (node: TreeNode): boolean =>
    node.kind === "file" ? node.path.toLowerCase().includes(needle) : node.children.some(matches);
  const walk = (node: TreeNode, depth: number): void => {
    for (const child of node.children) {
      if (needle && !matches(child)) continue;
      rows.push({ node: child, depth });
      if (child.kind === "folder" && (needle || expanded.has(child.path))) walk(child, depth + 1);
    }
  };
  walk(root, 0);
  return rows;
}

export type PreviewKind = "text" | "json" | "image" | "table" | "html" | "diff" | "binary";

const EXT: Record<string, PreviewKind> = {
  txt: "text", log: "text", md: "text", markdown: "text", rst: "text", out: "text", err: "text",
  py: "text", ipynb: "json", js: "text", ts: "text", sh: "text", sql: "text", r: "text", java: "text",
  go: "text", rs: "text", c: "text", h: "text", cpp: "text", yaml: "text", yml: "text", toml: "text",
  ini: "text", cfg: "text", conf: "text", env: "text", xml: "text", jsonl: "text", ndjson: "text",
  lock: "text", gitignore: "text", dockerfile: "text",
  json: "json",
  png: "image", jpg: "image", jpeg: "image", gif: "image", webp: "image", bmp: "image", svg: "image", avif: "image",
  parquet: "table", pq: "table", csv: "table", tsv: "table",
  html: "html", htm: "html",
  diff: "diff", patch: "diff",
};

export function extension(path: string): string {
  const name = path.split("/").pop() ?? "";
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : name.toLowerCase();
}

/** How to show a file: by extension first, then by media type. */
export function previewKind(path: string, mediaType = ""): PreviewKind {
  if (/\.(csv|tsv)\.gz$/i.test(path)) return "table";
  const byExt = EXT[extension(path)];
  if (byExt) return byExt;
  const type = mediaType.toLowerCase();
  if (type.startsWith("image/")) return "image";
  if (type === "text/html") return "html";
  if (type === "application/json" || type.endsWith("+json")) return "json";
  if (type === "text/csv" || type === "text/tab-separated-values" || type.includes("parquet")) return "table";
  if (type === "text/x-diff" || type === "text/x-patch") return "diff";
  if (type.startsWith("text/") || type === "application/x-yaml" || type === "application/xml") return "text";
  return "binary";
}
