import type * as http2 from "node:http2";

/**
 * HTTP/2 flow-control window for the bulk streams (model download, update upload): 16 MiB per
 * stream and connection instead of the 64 KiB default, so a 1 MiB chunk is never split into
 * window-sized pieces waiting for WINDOW_UPDATE round trips. Only the window grows: gRPC
 * messages keep their 4 MiB limit and the chunk size its 1 MiB default.
 */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** Channel options a party's client passes (grpc-js 1.14 reads `grpc-node.flow_control_window` for the receive window). */
export const TRANSFER_CHANNEL_OPTIONS = { "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES } as const;

/**
 * The server side of the same window: grpc-js's Server has no option for it, so the aggregator
 * widens each new HTTP/2 session's receive window itself (uploads). `servers` are the
 * http2 servers the grpc-js Server listens with; an unknown shape is left alone.
 */
export function widenServerWindows(servers: Iterable<unknown> | undefined, windowBytes = FLOW_CONTROL_WINDOW_BYTES): void {
  for (const server of servers ?? []) {
    if (typeof (server as http2.Http2Server).on !== "function") continue;
    (server as http2.Http2Server).on("session", (session: http2.ServerHttp2Session) => {
      try {
        session.setLocalWindowSize(windowBytes);
        session.settings({ initialWindowSize: windowBytes });
      } catch {
        // A session already closing: nothing to widen.
      }
    });
  }
}
