import { pino, type Logger, type DestinationStream } from "pino";
import pretty from "pino-pretty";
import type { ProgressLine } from "./progress.js";

export type { Logger };

/** Paths pino replaces with "[redacted]" wherever they appear in a log event. */
export const REDACTED_PATHS = [
  "token", "*.token", "*.*.token", "parties[*].token", "config.parties[*].token",
  "authorization", "*.authorization", "headers.authorization", "metadata.authorization",
];

export interface LoggerOptions {
  /** Service name put on every line (aggregator, party). */
  service: string;
  /** Level; defaults to LOG_LEVEL, then "info". */
  level?: string;
  /** Human-readable, coloured lines instead of JSON. */
  pretty?: boolean;
  /** Where lines go; defaults to stdout. */
  destination?: DestinationStream;
  /** Fields on every line (e.g. party name). */
  base?: Record<string, unknown>;
  /** A terminal status line that log lines must clear and redraw (see ProgressLine). */
  progress?: Pick<ProgressLine, "interleave">;
}

/**
 * The one way to make a logger: JSON lines on stdout (one event per line, pino's format) with
 * secrets redacted, or pino-pretty output for people.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? "info";
  const target = options.pretty
    ? pretty({ colorize: process.stdout.isTTY, translateTime: "HH:MM:ss.l", ignore: "pid,hostname", destination: 1, sync: true })
    : options.destination ?? pino.destination({ dest: 1, sync: true });
  const destination = (options.progress ? options.progress.interleave(target) : target) as DestinationStream;
  return pino(
    {
      level,
      base: { service: options.service, ...options.base },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
