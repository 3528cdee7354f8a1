import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** Folder holding `cohort/v1/*.proto`; the same relative place from src/ and dist/. */
export const PROTO_ROOT = fileURLToPath(new URL("../../../proto", import.meta.url));

// camelCase fields, 64-bit integers as JS numbers (offsets and counts stay far below 2^53),
// bytes as Buffers, and `kind` set on oneofs so handlers can switch on it.
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let cached: grpc.ServiceDefinition | undefined;

/** The `cohort.v1.Federation` service definition, loaded once from the .proto files. */
export function federationService(): grpc.ServiceDefinition {
  if (!cached) {
    const definition = protoLoader.loadSync("cohort/v1/federation.proto", LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      cohort: { v1: { Federation: grpc.ServiceClientConstructor } };
    };
    cached = pkg.cohort.v1.Federation.service;
  }
  return cached;
}

/** A client constructor for the Federation service. */
export function federationClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(federationService(), "Federation");
}
