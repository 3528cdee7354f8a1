import { describe, expect, it } from "vitest";
import { redact, REDACTED } from "./redact.js";

describe("redact", () => {
  it("replaces every token, nested or in lists, and leaves the original intact", () => {
    const config = { name: "p0", token: "secret-token", parties: [{ name: "a", token: "secret-a" }], model: { spec: { token_count: 3 } } };
    const copy = redact(config);
    expect(copy).toEqual({ name: "p0", token: REDACTED, parties: [{ name: "a", token: REDACTED }], model: { spec: { token_count: 3 } } });
    expect(config.token).toBe("secret-token");
    expect(config.parties[0]!.token).toBe("secret-a");
  });
});
