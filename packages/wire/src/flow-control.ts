/**
 * HTTP/2 flow-control window of a party's connection: 16 MiB per stream and connection instead
 * of the 64 KiB default, so a model download is not paced by WINDOW_UPDATE round trips. Only the
 * window grows: gRPC messages keep their 4 MiB limit and the chunk size its 1 MiB default.
 * The aggregator's receive window (uploads) stays at the default on purpose: it bounds what each
 * uploading party has buffered in the aggregator. Widening it (grpc-js's Server has no option;
 * done per HTTP/2 session) measured upload +30-40%, but aggregator peak RSS with 32 parties
 * uploading a 40 MB model at once went from 362 MB to 546 MB (2 MiB) and 1026 MB (16 MiB).
 */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** Channel options a party's client passes (grpc-js 1.14 reads `grpc-node.flow_control_window` as the receive window). */
export const TRANSFER_CHANNEL_OPTIONS = { "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES } as const;

