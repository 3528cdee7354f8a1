import { readFileSync } from "node:fs";

/** Linux reports thread CPU time in clock ticks of 1/USER_HZ s, 100 on every mainstream kernel. */
const MS_PER_TICK = 10;

/**
 * CPU time (user + system) the calling thread has used, in ms, from /proc/thread-self/stat;
 * undefined where that file does not exist (not Linux). Node 20 has no per-thread cpuUsage.
 */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync("/proc/thread-self/stat", "utf8");
  } catch {
    return undefined;
  }
  // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * MS_PER_TICK : undefined;
}
