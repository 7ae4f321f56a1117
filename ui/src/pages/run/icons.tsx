// Small inline icons for the artifact tree (no icon font, no extra package).
import { extension } from "./artifacts";

const KIND_COLORS: Record<string, string> = {
  image: "#8b5cf6",
  table: "#0e9f6e",
  json: "#d97706",
  html: "#e0513b",
  text: "#6b7485",
  diff: "#2463eb",
  other: "#9aa4b5",
};

const EXT_KIND: Record<string, string> = {
  png: "image", jpg: "image", jpeg: "image", gif: "image", svg: "image", webp: "image", bmp: "image",
  parquet: "table", csv: "table", tsv: "table", pq: "table",
  json: "json", ipynb: "json",
  html: "html", htm: "html",
  txt: "text", log: "text", md: "text", yaml: "text", yml: "text", toml: "text", py: "text",
  diff: "diff", patch: "diff",
};

export function FolderIcon({ open }: { open: boolean }) {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <path
        d={open ? "M1.5 4.5v8h11.2l2-5.5H4.2l-1.4 4" : "M1.5 3.5h4.2l1.4 1.5h7.4v7.5h-13z"}
        fill={open ? "none" : "#e8edf6"}
        stroke="#7f8ba3"
        strokeWidth="1.1"
        strokeLinejoin="round"
      />
      {open && <path d="M1.5 4.5v-1h4.2l1.4 1.5h5.9v2" fill="none" stroke="#7f8ba3" strokeWidth="1.1" strokeLinejoin="round" />}
    </svg>
  );
}

export function ModelIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <path d="M8 1.8l5.6 3.1v6.2L8 14.2l-5.6-3.1V4.9z" fill="#fdf0e6" stroke="#c96b15" strokeWidth="1.1" strokeLinejoin="round" />
      <path d="M2.4 4.9L8 8l5.6-3.1M8 8v6.2" fill="none" stroke="#c96b15" strokeWidth="1.1" strokeLinejoin="round" />
    </svg>
  );
}

export function FileIcon({ path }: { path: string }) {
  const kind = EXT_KIND[extension(path)] ?? "other";
  const color = KIND_COLORS[kind];
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <path d="M3.5 1.5h6l3 3v10h-9z" fill="white" stroke="#9aa4b5" strokeWidth="1.1" strokeLinejoin="round" />
      <path d="M9.5 1.5v3h3" fill="none" stroke="#9aa4b5" strokeWidth="1.1" strokeLinejoin="round" />
      <rect x="5" y="7.5" width="6" height="1.3" rx="0.6" fill={color} />
      <rect x="5" y="10.2" width={kind === "other" ? 3 : 4.5} height="1.3" rx="0.6" fill={color} opacity="0.7" />
    </svg>
  );
}
