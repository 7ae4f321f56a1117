// Pure logic of the projects overview and the project page.
import { formatNumber, parseTime } from "../../format";
import type { Experiment, RegisteredModel, Schedule } from "./data";

/** A count for a card: "1,234", "100+" when only a page was seen, "—" while unknown. */
export function countText(count: number | null | undefined, more = false): string {
  if (count === null || count === undefined) return "—";
  return `${formatNumber(count)}${more ? "+" : ""}`;
}

/** The latest of some API times (ISO strings, any may be missing), or null. */
export function latest(...times: (string | null | undefined)[]): string | null {
  let best: string | null = null;
  let bestMs = -Infinity;
  for (const t of times) {
    const ms = parseTime(t);
    if (ms !== null && ms > bestMs) {
      bestMs = ms;
      best = t as string;
    }
  }
  return best;
}

/** Experiments with the most recently used first (never-used ones last, by name). */
export function sortExperiments(experiments: Experiment[]): Experiment[] {
  return [...experiments]
    .filter((e) => !e.deleted)
    .sort((a, b) => {
      const ta = parseTime(a.last_run_at) ?? -Infinity;
      const tb = parseTime(b.last_run_at) ?? -Infinity;
      if (ta !== tb) return tb - ta;
      return a.name.localeCompare(b.name);
    });
}

/** Runs of a project from its experiments' counts, when the server gives them. */
export function runsFromExperiments(experiments: Experiment[] | undefined): number | null {
  if (!experiments) return null;
  let total = 0;
  for (const e of experiments) {
    if (e.deleted) continue;
    if (typeof e.run_count !== "number") return null;
    total += e.run_count;
  }
  return total;
}

/** Models touched most recently first, at most `n`. */
export function recentModels(models: RegisteredModel[], n: number): RegisteredModel[] {
  return [...models].sort((a, b) => (parseTime(b.updated_at) ?? 0) - (parseTime(a.updated_at) ?? 0)).slice(0, n);
}

/** Aliases of a model as [alias, version] pairs, sorted by alias; unset ones left out. */
export function aliasList(model: Pick<RegisteredModel, "aliases">): [string, number][] {
  return Object.entries(model.aliases ?? {})
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .sort(([a], [b]) => a.localeCompare(b));
}

/** What makes a schedule fire, for people. */
export function scheduleTrigger(schedule: Pick<Schedule, "cron" | "dataset" | "dataset_param">): string {
  if (schedule.cron) return `cron ${schedule.cron}${cronHint(schedule.cron)}`;
  if (schedule.dataset) return `new version of ${schedule.dataset} → ${schedule.dataset_param}`;
  return "manual";
}

const ALIASES: Record<string, string> = {
  "@hourly": "every hour",
  "@daily": "every day at 00:00",
  "@midnight": "every day at 00:00",
  "@weekly": "every Sunday at 00:00",
  "@monthly": "on the 1st at 00:00",
  "@yearly": "on January 1st at 00:00",
  "@annually": "on January 1st at 00:00",
};

/** " (every day at 03:00 UTC)" for the common cron shapes, "" otherwise. */
export function cronHint(cron: string): string {
  const text = cron.trim();
  if (ALIASES[text]) return ` (${ALIASES[text]} UTC)`;
  const f = text.split(/\s+/);
  if (f.length !== 5) return "";
  const [min, hour, dom, mon, dow] = f;
  const num = (s: string) => /^\d+$/.test(s);
  const every = /^\*\/(\d+)$/;
  if (dom === "*" && mon === "*" && dow === "*") {
    if (num(min) && num(hour)) return ` (every day at ${hour.padStart(2, "0")}:${min.padStart(2, "0")} UTC)`;
    if (num(min) && hour === "*") return ` (every hour at :${min.padStart(2, "0")})`;
    const m = every.exec(min);
    if (m && hour === "*") return ` (every ${m[1]} min)`;
    if (min === "*" && hour === "*") return " (every minute)";
  }
  return "";
}
