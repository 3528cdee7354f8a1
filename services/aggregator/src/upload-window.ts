import type { Http2Session } from "node:http2";

/** HTTP/2's default receive window (RFC 9113 6.9.2), which grpc-js's Server keeps. */
export const DEFAULT_WINDOW_BYTES = 65_535;

/**
 * Receive window of an upload while it runs. With the default 64 KiB an upload waits for a
 * WINDOW_UPDATE every 64 KiB: over loopback, grpc-js alone moved 224-277 MB/s with it and
 * 1119-1206 MB/s with 1 MiB (scratch harness, 256 MB client stream, no per-chunk work); the
 * whole upload path (`bench/run.mjs --only=transfer`) about 1.3x.
 */
export const UPLOAD_WINDOW_BYTES = 1024 * 1024;

/**
 * Uploads that get the wide window at once; the others keep the default. Bounds the extra
 * memory to 8 MiB: every byte of window is data a party may push before the aggregator has
 * read it (`bench/run.mjs --only=rss` with all 32 uploads widened: n32 peak RSS 369 -> 395 MB).
 */
export const WIDE_UPLOADS_MAX = 8;

/**
 * The HTTP/2 session a grpc-js server call runs on. grpc-js (1.10-1.14) has no public way to
 * it: the handler's call object keeps its intercepting call in `call`, whose innermost layer
 * holds the HTTP/2 stream. Undefined when that shape changes (a grpc-js upgrade): uploads then
 * keep the default window, and `upload-window.spec.ts` fails to say so.
 */
export function http2SessionOf(call: object): Http2Session | undefined {
  const session = (call as { call?: { stream?: { session?: unknown } } }).call?.stream?.session;
  return session && typeof (session as Http2Session).setLocalWindowSize === "function" ? (session as Http2Session) : undefined;
}

/**
 * Sets the receive window of `session`'s connection and of its streams to `bytes`, up or down.
 * A party has one connection and at most one upload in flight on it; its other streams carry
 * small messages, or data the other way (downloads, paced by the party's window).
 */
function setReceiveWindow(session: Http2Session, bytes: number): boolean {
  if (session.destroyed || session.closed) return false;
  try {
    // Changing SETTINGS_INITIAL_WINDOW_SIZE also moves the windows of streams already open.
    session.settings({ initialWindowSize: bytes });
    session.setLocalWindowSize(bytes);
    return true;
  } catch {
    return false; // e.g. ERR_HTTP2_MAX_PENDING_SETTINGS_ACK from a peer that does not acknowledge: keep what it has
  }
}

/** Hands the wide receive window to at most `max` uploads at a time. */
export class UploadWindows {
  private wide = 0;

  constructor(private readonly max = WIDE_UPLOADS_MAX, private readonly bytes = UPLOAD_WINDOW_BYTES) {}

  /** Uploads holding the wide window now. */
  get widened(): number {
    return this.wide;
  }

  /**
   * Widens the window of `call`'s connection when fewer than `max` uploads have it. Returns the
   * extra bytes of window granted (0 when none) and a release that narrows it again.
   */
  open(call: object): { extraBytes: number; release: () => void } {
    const session = http2SessionOf(call);
    if (this.wide >= this.max || !session || !setReceiveWindow(session, this.bytes)) return { extraBytes: 0, release: () => undefined };
    this.wide += 1;
    let released = false;
    return {
      extraBytes: this.bytes - DEFAULT_WINDOW_BYTES,
      release: () => {
        if (released) return;
        released = true;
        this.wide -= 1;
        setReceiveWindow(session, DEFAULT_WINDOW_BYTES);
      },
    };
  }
}
