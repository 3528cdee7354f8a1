import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { PartyAuthenticator } from "./auth.js";

function metadata(party?: string, token?: string): grpc.Metadata {
  const m = new grpc.Metadata();
  if (party !== undefined) m.set("cohort-party", party);
  if (token !== undefined) m.set("authorization", `Bearer ${token}`);
  return m;
}

describe("PartyAuthenticator", () => {
  const auth = new PartyAuthenticator([{ name: "alpha", token: "alpha-token-1" }, { name: "beta", token: "beta-token-22" }]);

  it("accepts each party with its own token only", () => {
    expect(auth.authenticate(metadata("alpha", "alpha-token-1"))).toBe("alpha");
    expect(auth.authenticate(metadata("beta", "beta-token-22"))).toBe("beta");
    expect(() => auth.authenticate(metadata("alpha", "beta-token-22"))).toThrow(/unknown party or wrong token/);
  });

  it("refuses unknown parties, missing tokens and prefixes of the right token with the same UNAUTHENTICATED answer", () => {
    for (const m of [metadata("gamma", "alpha-token-1"), metadata("alpha"), metadata(undefined, "alpha-token-1"), metadata("alpha", "alpha-token-"), metadata("alpha", "")]) {
      let code: number | undefined;
      try {
        auth.authenticate(m);
      } catch (error) {
        code = (error as { code: number }).code;
      }
      expect(code).toBe(grpc.status.UNAUTHENTICATED);
    }
  });

  it("open (--insecure): any named party joins with or without a token; a call without a name is still refused", () => {
    const open = new PartyAuthenticator([], true);
    expect(open.authenticate(metadata("config_party0"))).toBe("config_party0");
    expect(open.authenticate(metadata("anyone", "whatever"))).toBe("anyone");
    expect(() => open.authenticate(metadata(undefined, "alpha-token-1"))).toThrow(/no party name/);
    expect(() => open.authenticate(metadata("  "))).toThrow(/no party name/);
    // Not open: the same calls are refused.
    expect(() => auth.authenticate(metadata("config_party0"))).toThrow(/unknown party or wrong token/);
  });
});
