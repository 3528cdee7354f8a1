/**
 * HTTP/2 flow-control window of a party's connection: 16 MiB per stream and connection instead
 * of the 64 KiB default, so a model download is not paced by WINDOW_UPDATE round trips. Only the
 * window grows: gRPC messages keep their 4 MiB limit and the chunk size its 256 KiB default.
 * The aggregator's receive window (uploads) is widened to 1 MiB for at most 8 uploads at a time
 * (`services/aggregator/src/upload-window.ts`): it bounds what uploading parties have buffered
 * in the aggregator. Widening it for every upload cost aggregator peak RSS with 32 parties
 * uploading a 40 MB model at once: 362 MB -> 546 MB (2 MiB) and 1026 MB (16 MiB).
 */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** Channel options a party's client passes (grpc-js 1.14 reads `grpc-node.flow_control_window` as the receive window). */
export const TRANSFER_CHANNEL_OPTIONS = { "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES } as const;

