// What the Compare page's parts share: the runs with their label and colour.
import type { Schemas } from "../../api/client";

export type Run = Schemas["Run"];

export interface RunInfo {
  run: Run;
  label: string;
  color: string;
}

/** Colours of the runs, in order (enough to tell a dozen apart). */
export const PALETTE = [
  "#2463eb", "#e4572e", "#17a673", "#9b5de5", "#f2a202", "#00a6c8",
  "#d81b60", "#6d8a12", "#7a5230", "#5c6b8a", "#ff7ab6", "#1b998b",
];
