import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { alreadyExists, failedPrecondition, invalidArgument, permissionDenied, unauthenticated } from "@cohort/wire";
import { rejectionReason } from "./rejection-reason.js";

describe("rejectionReason", () => {
  it.each([
    [invalidArgument("CRC-32 mismatch: the trailer says 0000abcd, the bytes give 0000dcba"), "checksum_mismatch"],
    [invalidArgument("tensor dense/kernel holds NaN or infinite values"), "non_finite"],
    [invalidArgument("chunk at offset 10, expected 0"), "bad_chunk"],
    [invalidArgument("chunk of 9 bytes exceeds the 4-byte limit"), "bad_chunk"],
    [invalidArgument("upload ended after 10 of 20 bytes without a trailer"), "incomplete"],
    [invalidArgument("trailer after 10 of 20 bytes"), "incomplete"],
    [invalidArgument("an upload must start with a header"), "malformed"],
    [invalidArgument("num_examples must be an integer in [1, 1e12], got 0"), "bad_header"],
    [alreadyExists("an update for round 2 was already accepted from p0"), "duplicate"],
    [failedPrecondition("round 3 is not open for updates (current round 2)"), "round_closed"],
    [permissionDenied("p1 is not a participant of round 2"), "not_participant"],
    [failedPrecondition("session is not current: join again"), "stale_session"],
    [unauthenticated("unknown party or wrong token"), "unauthenticated"],
    [failedPrecondition("something new"), "failed_precondition"],
  ])("%s -> %s", (error, reason) => {
    expect(rejectionReason(error)).toBe(reason);
  });

  it("calls a broken call cancelled or internal, never its message", () => {
    expect(rejectionReason(Object.assign(new Error("Cancelled on client"), { code: grpc.status.CANCELLED }))).toBe("cancelled");
    expect(rejectionReason(new Error("disk full at /var/x"))).toBe("internal");
  });
});
