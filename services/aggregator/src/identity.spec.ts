import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { AUTHORIZATION_KEY, PARTY_KEY, SESSION_KEY } from "@cohort/wire";
import { PartyAuthenticator } from "./auth.js";
import { type IdentifiableCall, identify } from "./identity.js";
import { resolveLimits } from "./limits.js";
import { rejectionReason } from "./rejection-reason.js";

const auth = new PartyAuthenticator([{ name: "p0", token: "token-of-p0" }, { name: "p1", token: "token-of-p1" }]);
const limits = resolveLimits();

function call(party: string | undefined, token: string | undefined, cn?: string | string[]): IdentifiableCall {
  const metadata = new grpc.Metadata();
  if (party !== undefined) metadata.set(PARTY_KEY, party);
  if (token !== undefined) metadata.set(AUTHORIZATION_KEY, `Bearer ${token}`);
  return { metadata, getAuthContext: () => (cn === undefined ? {} : { sslPeerCertificate: { subject: { CN: cn } } as never }) };
}

const codeOf = (f: () => unknown) => { try { f(); return grpc.status.OK; } catch (e) { return (e as { code: grpc.status }).code; } };

describe("identify", () => {
  const token = { mutualTls: true, mode: "token" as const };
  const certificate = { mutualTls: true, mode: "certificate" as const };

  it("without mutual TLS: the token decides", () => {
    expect(identify(call("p0", "token-of-p0"), auth, { mutualTls: false, mode: "token" }, limits)).toBe("p0");
    expect(codeOf(() => identify(call("p0", "wrong-token"), auth, { mutualTls: false, mode: "token" }, limits))).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("identity token: the token and a certificate naming the same party", () => {
    expect(identify(call("p0", "token-of-p0", "p0"), auth, token, limits)).toBe("p0");
    expect(codeOf(() => identify(call("p0", "token-of-p0", "p1"), auth, token, limits))).toBe(grpc.status.PERMISSION_DENIED);
    expect(codeOf(() => identify(call("p0", "token-of-p0", "stranger"), auth, token, limits))).toBe(grpc.status.PERMISSION_DENIED);
    expect(codeOf(() => identify(call("p0", "token-of-p0", ["p0", "p1"]), auth, token, limits))).toBe(grpc.status.UNAUTHENTICATED);
    expect(codeOf(() => identify(call("p1", "wrong", "p1"), auth, token, limits))).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("identity certificate: the CN alone, and a claimed name must agree with it", () => {
    expect(identify(call(undefined, undefined, "p1"), auth, certificate, limits)).toBe("p1");
    expect(codeOf(() => identify(call("p0", "token-of-p0", "p1"), auth, certificate, limits))).toBe(grpc.status.PERMISSION_DENIED);
  });

  it("refuses oversize or repeated metadata before reading it", () => {
    expect(codeOf(() => identify(call("p".repeat(200), "token-of-p0"), auth, token, limits))).toBe(grpc.status.INVALID_ARGUMENT);
    const c = call("p0", "token-of-p0", "p0");
    c.metadata.set(SESSION_KEY, "s".repeat(65));
    expect(codeOf(() => identify(c, auth, token, limits))).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("new refusals have their own rejected-update reasons", async () => {
    const { FederationError } = await import("@cohort/wire");
    expect(rejectionReason(new FederationError(grpc.status.RESOURCE_EXHAUSTED, "an upload from p0 is already in flight (limit 1)"))).toBe("too_many_streams");
    expect(rejectionReason(new FederationError(grpc.status.DEADLINE_EXCEEDED, "no upload message for 60 s: upload abandoned"))).toBe("idle");
  });
});
