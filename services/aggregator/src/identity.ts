import type { PeerCertificate } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import { AUTHORIZATION_KEY, PARTY_KEY, SESSION_KEY, invalidArgument, permissionDenied, unauthenticated } from "@cohort/wire";
import type { PartyAuthenticator } from "./auth.js";
import type { AggregatorLimits } from "./limits.js";

/**
 * How a party proves who it is. `token`: the bearer token of the allow-list (and, under mutual
 * TLS, a client certificate whose subject CN is that same party). `certificate`: under mutual
 * TLS only, the client certificate's CN alone names the party and no token is checked.
 */
export type IdentityMode = "token" | "certificate";

export interface IdentityPolicy {
  /** Client certificates are required and verified by the TLS layer (tls_config.ca). */
  mutualTls: boolean;
  mode: IdentityMode;
}

/** A server call as far as identity goes (grpc-js 1.10+ exposes the TLS peer through getAuthContext; its type is not exported). */
export type IdentifiableCall = { metadata: grpc.Metadata; getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | null };
type Call = IdentifiableCall;

/**
 * The party a call acts for, or a refusal: oversize metadata INVALID_ARGUMENT (checked before
 * anything else reads it), no valid credential UNAUTHENTICATED, a certificate naming another
 * party (or none of the allow-list) PERMISSION_DENIED.
 */
export function identify(call: Call, auth: PartyAuthenticator, policy: IdentityPolicy, limits: AggregatorLimits): string {
  checkMetadataSizes(call.metadata, limits);
  if (!policy.mutualTls) return auth.authenticate(call.metadata);
  const certified = certificateName(call);
  if (certified === undefined) throw unauthenticated("no client certificate with a subject CN");
  if (!auth.partyNames.includes(certified)) throw permissionDenied(`certificate subject ${JSON.stringify(certified.slice(0, limits.maxPartyNameBytes))} is not an allowed party`);
  if (policy.mode === "certificate") {
    const claimed = call.metadata.get(PARTY_KEY)[0];
    if (typeof claimed === "string" && claimed !== certified) throw permissionDenied(`certificate is for party ${certified}, not ${claimed}`);
    return certified;
  }
  const party = auth.authenticate(call.metadata);
  if (party !== certified) throw permissionDenied(`certificate is for party ${certified}, not ${party}`);
  return party;
}

/** The subject CN of the verified client certificate, if the call came over mutual TLS. */
export function certificateName(call: Call): string | undefined {
  const certificate = call.getAuthContext?.()?.sslPeerCertificate;
  const cn = certificate?.subject?.CN as string | string[] | undefined;
  // A subject with several CNs is ambiguous: it names no one.
  return typeof cn === "string" && cn.length > 0 ? cn : undefined;
}

function checkMetadataSizes(metadata: grpc.Metadata, limits: AggregatorLimits): void {
  const bounds: [string, number][] = [[AUTHORIZATION_KEY, limits.maxTokenBytes + "Bearer ".length], [PARTY_KEY, limits.maxPartyNameBytes], [SESSION_KEY, limits.maxSessionBytes]];
  for (const [key, max] of bounds) {
    const values = metadata.get(key);
    if (values.length > 1) throw invalidArgument(`metadata ${key} given ${values.length} times`);
    const value = values[0];
    const size = value === undefined ? 0 : typeof value === "string" ? Buffer.byteLength(value) : value.byteLength;
    if (size > max) throw invalidArgument(`metadata ${key} is ${size} bytes (limit ${max})`);
  }
}
