import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { decodeModelChunk, decodeUploadChunk, encodeModelChunk, encodeUploadChunk, withFastDeserialize, withFastSerialize } from "./transfer-codec.js";

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

/**
 * Which codec the bulk messages use: "protobufjs" (default) uses proto-loader's codecs only;
 * "fast" puts the hand-written codecs of transfer-codec.ts in front of them for upload chunks and
 * download chunks. Both put the same bytes on the wire and give the same objects (fuzz-tested).
 * The fast codec is off by default: it measured no transfer speed-up on loopback (bench/README.md,
 * "Hand-written codecs"), so the network path keeps protobufjs's decoder alone.
 */
export type WireCodec = "fast" | "protobufjs";

/** The codec chosen by `COHORT_WIRE_CODEC` (read on each call; "fast" turns the hand-written codecs on). */
export function defaultWireCodec(): WireCodec {
  return process.env.COHORT_WIRE_CODEC === "fast" ? "fast" : "protobufjs";
}

let loaded: grpc.ServiceDefinition | undefined;
const cached = new Map<WireCodec, grpc.ServiceDefinition>();

/** The `cohort.v1.Federation` service definition, loaded once from the .proto files. */
export function federationService(codec: WireCodec = defaultWireCodec()): grpc.ServiceDefinition {
  let service = cached.get(codec);
  if (!service) {
    if (!loaded) {
      const definition = protoLoader.loadSync("cohort/v1/federation.proto", LOADER_OPTIONS);
      const pkg = grpc.loadPackageDefinition(definition) as unknown as {
        cohort: { v1: { Federation: grpc.ServiceClientConstructor } };
      };
      loaded = pkg.cohort.v1.Federation.service;
    }
    service = codec === "fast" ? withFastCodecs(loaded) : loaded;
    cached.set(codec, service);
  }
  return service;
}

/** A client constructor for the Federation service. */
export function federationClientConstructor(codec: WireCodec = defaultWireCodec()): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(federationService(codec), "Federation");
}

/** A copy of `service` whose UploadUpdate requests and DownloadModel responses try the hand-written codecs first. */
function withFastCodecs(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const upload = service.UploadUpdate!;
  const download = service.DownloadModel!;
  return {
    ...service,
    UploadUpdate: {
      ...upload,
      requestSerialize: withFastSerialize(encodeUploadChunk, upload.requestSerialize),
      requestDeserialize: withFastDeserialize(decodeUploadChunk, upload.requestDeserialize),
    },
    DownloadModel: {
      ...download,
      responseSerialize: withFastSerialize(encodeModelChunk, download.responseSerialize),
      responseDeserialize: withFastDeserialize(decodeModelChunk, download.responseDeserialize),
    },
  };
}
