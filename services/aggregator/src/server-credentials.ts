import { readFile } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { readPrivateKey } from "@cohort/wire";
import type { AggregatorSettings } from "./settings.js";

/** Plaintext, TLS, or mutual TLS (a CA given: parties must present certificates it signed). */
export async function serverCredentials(tls: AggregatorSettings["tls"], allowInsecureKey = false): Promise<grpc.ServerCredentials> {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const key = readPrivateKey(tls.keyFile, allowInsecureKey);
  const [cert, ca] = await Promise.all([readFile(tls.certFile), tls.caFile ? readFile(tls.caFile) : undefined]);
  return grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], ca !== undefined);
}
