import { createHash, timingSafeEqual } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { AUTHORIZATION_KEY, PARTY_KEY, unauthenticated } from "@cohort/wire";

/**
 * Checks a caller's party name and bearer token against the allow-list. Tokens are compared as
 * SHA-256 digests with timingSafeEqual, so neither a token's content nor its length leaks
 * through timing, and a wrong token and an unknown party get the same answer.
 */
export class PartyAuthenticator {
  private readonly digests = new Map<string, Buffer>();

  /**
   * `open` (the aggregator's --insecure): no allow-list, any non-empty party name is taken as
   * given and no token is checked. For trusted networks and IBM FL's configs, which name no parties.
   */
  constructor(parties: readonly { name: string; token: string }[], readonly open = false) {
    for (const p of parties) this.digests.set(p.name, digest(p.token));
  }

  get partyNames(): string[] {
    return [...this.digests.keys()];
  }

  /** The authenticated party's name; throws UNAUTHENTICATED otherwise. */
  authenticate(metadata: Metadata): string {
    const name = single(metadata, PARTY_KEY);
    if (this.open) {
      if (name === undefined || name.trim() === "") throw unauthenticated("no party name");
      return name;
    }
    const header = single(metadata, AUTHORIZATION_KEY);
    const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
    const expected = name === undefined ? undefined : this.digests.get(name);
    const presented = digest(token ?? "");
    // Compare even when the party is unknown, so both failures take the same time.
    const match = timingSafeEqual(expected ?? digest("\u0000unknown"), presented) && expected !== undefined && token !== undefined;
    if (!match || name === undefined) throw unauthenticated("unknown party or wrong token");
    return name;
  }
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function single(metadata: Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length !== 1) return undefined;
  const value = values[0];
  return typeof value === "string" && value.length <= 4096 ? value : undefined;
}
