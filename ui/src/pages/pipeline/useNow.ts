import { useEffect, useState } from "react";

/** The current time, ticking every `everyMs` while `active` (for "running · 12 s" displays). */
export function useNow(active: boolean, everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [active, everyMs]);
  return active ? now : Date.now();
}
