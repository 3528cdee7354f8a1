import { readFileSync } from "node:fs";

/** Linux reports thread CPU time in /proc/thread-self/stat in clock ticks of 1/USER_HZ s, 100 on every mainstream kernel. */
const MS_PER_TICK = 10;

/** What the kernel's scheduler says about the calling thread, in ms. */
export interface ThreadTimes {
  /** CPU time the thread has used. */
  cpuMs: number;
  /** Time it was runnable but waited for a core (another thread or process had it); undefined where not reported. */
  waitMs?: number;
}

/**
 * CPU time (user + system) the calling thread has used, in ms; undefined where Linux's /proc
 * files are missing. Node 20 has no per-thread cpuUsage.
 */
export function threadCpuMs(): number | undefined {
  return threadTimes()?.cpuMs;
}

/**
 * The calling thread's CPU time and run-queue wait: from /proc/thread-self/schedstat (in ns, but
 * brought up to date at scheduler ticks and switches, so a few ms apart at worst; the wait tells
 * a thread starved by other work from a slow one), else /proc/thread-self/stat (10 ms
 * ticks, no wait); undefined where neither exists (not Linux).
 */
export function threadTimes(): ThreadTimes | undefined {
  try {
    // "<ns on a core> <ns waiting on a run queue> <timeslices>"
    const [run, wait] = readFileSync("/proc/thread-self/schedstat", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isFinite(run) && Number.isFinite(wait)) return { cpuMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    // Kernels built without schedstats: fall back to the tick counts below.
  }
  let stat: string;
  try {
    stat = readFileSync("/proc/thread-self/stat", "utf8");
  } catch {
    return undefined;
  }
  // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? { cpuMs: ticks * MS_PER_TICK } : undefined;
}
