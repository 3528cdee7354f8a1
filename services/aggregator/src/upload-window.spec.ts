import type { Http2Session } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_WINDOW_BYTES, UploadWindows, http2SessionOf } from "./upload-window.js";

const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  Up: { path: "/test.T/Up", requestStream: true, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity, originalName: "up" },
};
const Client = grpc.makeGenericClientConstructor(service, "T");
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** A grpc-js server whose Up handler hands each call to `onCall` before reading it. */
async function serve(onCall: (call: grpc.ServerReadableStream<Buffer, Buffer>) => Promise<void> | void): Promise<number> {
  const server = new grpc.Server();
  server.addService(service, {
    Up: async (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      await onCall(call);
      let bytes = 0;
      for await (const message of call) bytes += (message as Buffer).length;
      callback(null, Buffer.from(String(bytes)));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  cleanup.push(() => server.forceShutdown());
  return port;
}

function client(port: number): grpc.Client {
  // Own connection per client: each stands for a party.
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  cleanup.push(() => c.close());
  return c;
}

function upload(c: grpc.Client, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = (c as unknown as { Up: (cb: grpc.requestCallback<Buffer>) => grpc.ClientWritableStream<Buffer> }).Up((e, v) => (e ? reject(e) : resolve(Number(String(v)))));
    for (let sent = 0; sent < bytes; sent += 65536) call.write(Buffer.alloc(Math.min(65536, bytes - sent), 1));
    call.end();
  });
}

const acknowledged = (session: Http2Session) => new Promise<void>((resolve) => setTimeout(resolve, 50)).then(() => session.localSettings.initialWindowSize);

describe("UploadWindows: a wide HTTP/2 receive window for a bounded number of uploads", () => {
  it("reaches the HTTP/2 session of a grpc-js server call (fails when a grpc-js upgrade hides it)", async () => {
    let session: Http2Session | undefined;
    const port = await serve((call) => { session = http2SessionOf(call); });
    expect(await upload(client(port), 1000)).toBe(1000);
    expect(session).toBeDefined();
    expect(typeof session!.setLocalWindowSize).toBe("function");
  });

  it("widens the connection and stream windows while an upload runs, and narrows them after", async () => {
    const windows = new UploadWindows(8, 1024 * 1024);
    const seen: { extra: number; during?: number; connection?: number; after?: number }[] = [];
    const port = await serve(async (call) => {
      const session = http2SessionOf(call)!;
      const opened = windows.open(call);
      const entry: (typeof seen)[number] = { extra: opened.extraBytes };
      entry.during = await acknowledged(session);
      entry.connection = session.state.effectiveLocalWindowSize;
      seen.push(entry);
      call.on("end", () => {
        opened.release();
        void acknowledged(session).then((after) => { entry.after = after; });
      });
    });
    // 3 MiB through a 1 MiB window: the data still arrives whole.
    expect(await upload(client(port), 3 * 1024 * 1024)).toBe(3 * 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual([{ extra: 1024 * 1024 - DEFAULT_WINDOW_BYTES, during: 1024 * 1024, connection: 1024 * 1024, after: DEFAULT_WINDOW_BYTES }]);
    expect(windows.widened).toBe(0);
  });

  it("gives the wide window to at most `max` uploads at once; the rest keep the default", async () => {
    const windows = new UploadWindows(2, 512 * 1024);
    const extras: number[] = [];
    let releaseAll!: () => void;
    const gate = new Promise<void>((resolve) => { releaseAll = resolve; });
    const port = await serve(async (call) => {
      const opened = windows.open(call);
      extras.push(opened.extraBytes);
      call.on("end", () => opened.release());
      if (extras.length === 4) releaseAll();
      await gate; // all four are open at once
    });
    const uploads = [0, 1, 2, 3].map(() => upload(client(port), 100_000));
    expect(await Promise.all(uploads)).toEqual([100_000, 100_000, 100_000, 100_000]);
    expect(extras.filter((e) => e > 0)).toEqual([512 * 1024 - DEFAULT_WINDOW_BYTES, 512 * 1024 - DEFAULT_WINDOW_BYTES]);
    expect(extras.filter((e) => e === 0)).toHaveLength(2);
    expect(windows.widened).toBe(0);
  });

  it("grants nothing for an object that is not a grpc-js call", () => {
    const windows = new UploadWindows();
    const opened = windows.open({});
    expect(opened.extraBytes).toBe(0);
    expect(windows.widened).toBe(0);
  });
});
