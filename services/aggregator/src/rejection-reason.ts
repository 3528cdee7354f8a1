import * as grpc from "@grpc/grpc-js";
import { FederationError } from "@cohort/wire";

/**
 * Short reason codes for refused uploads, the label values of the rejected-updates metric.
 * Prometheus labels must come from a small fixed set, so a refusal's message (which names
 * rounds, offsets, checksums) maps onto one of these; the log line keeps the full message.
 * Ordered: the first pattern that matches wins.
 */
const PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/CRC-32 mismatch/, "checksum_mismatch"],
  [/NaN or infinite/, "non_finite"],
  [/^chunk |empty chunk|exceeds the .*-byte limit|runs past/, "bad_chunk"],
  [/without a trailer|^trailer after/, "incomplete"],
  [/must start with a header|second header|after the trailer/, "malformed"],
  // Bounds on what a party reports (report-bounds.ts, max_update_norm): before bad_header, which also names num_examples.
  [/examples declared at join/, "examples_over_declared"],
  [/valid range|metric \S+ is .*expected a finite number/, "metric_out_of_range"],
  [/exceeds max_update_norm/, "update_norm"],
  [/num_examples|train_seconds|metrics with names/, "bad_header"],
  [/too many refused calls|too many of its calls were refused/, "cooldown"],
  [/missed the \w+ deadline/, "deadline"],
  [/belongs to its previous session/, "superseded"],
  [/already in flight|streams open/, "too_many_streams"],
  [/no upload message for/, "idle"],
  [/already accepted/, "duplicate"],
  [/not open for updates|closed before the update was complete/, "round_closed"],
  [/not a participant/, "not_participant"],
  [/initial weights/, "unexpected_initial_weights"],
  [/session is not current/, "stale_session"],
  [/no model yet/, "no_model"],
];

/** The reason code of an upload that failed with `error`. */
export function rejectionReason(error: unknown): string {
  if (!(error instanceof FederationError)) {
    // Not a refusal of ours: the call broke (cancelled by the party, transport failure).
    const code = (error as { code?: unknown })?.code;
    return code === grpc.status.CANCELLED ? "cancelled" : "internal";
  }
  if (error.code === grpc.status.UNAUTHENTICATED) return "unauthenticated";
  for (const [pattern, reason] of PATTERNS) if (pattern.test(error.message)) return reason;
  return (grpc.status[error.code] ?? "unknown").toLowerCase();
}
