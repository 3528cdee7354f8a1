// upload_vs_tcp / download_vs_tcp: an aggregator in a child process and a party in this one,
// over loopback gRPC with TLS off. The party side uses the party service's own uploadUpdate
// (pack, CRC-32, chunks; the aggregator stages, checksums, checks finiteness and folds before it
// answers) and downloadModel (chunks reassembled and checksum-checked). Baseline: the same bytes
// over a raw TCP socket between the same two processes (a child process sink/source).
// The ceiling: the same bytes over bare grpc-js (raw-byte messages of the same chunk size, the
// same receive windows, no per-chunk work) between the same two processes. Cohort cannot move
// bytes faster than the library it runs on; `grpc_bare_*_vs_tcp` says where that bound lies.
import { pumpBytes } from "./lib/pump.mjs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { TRANSFER_CHANNEL_OPTIONS } from "@cohort/wire";
import { downloadModel, uploadUpdate } from "@cohort/party";
import { manifestByteLength, unpackWeights } from "@cohort/tensors";
import { benchChunkSize, floatManifest, mbps, median, now, partyList, rate, spawnAggregator, tempDir } from "./lib/common.mjs";
import { LeanParty } from "./lib/lean-party.mjs";
import { BARE_SERVICE } from "./lib/grpc-bare-service.mjs";

const TCP_CHILD = fileURLToPath(new URL("./lib/tcp-child.mjs", import.meta.url));
const GRPC_BARE_CHILD = fileURLToPath(new URL("./lib/grpc-bare-child.mjs", import.meta.url));

export async function uploadDownloadVsTcp({ full }) {
  const params = full ? 50_000_000 : 8_000_000;
  const rounds = 3;
  const manifest = floatManifest(params, 16 * 1024 * 1024);
  const total = manifestByteLength(manifest);
  const chunkSize = benchChunkSize();
  const aggregator = await spawnAggregator({ manifest, numParties: 1, rounds, chunkSize, initial: "zeros", outputDir: await tempDir("transfer"), stagingMemoryBytes: 2 * total });
  const [{ name, token }] = partyList(1);
  const party = new LeanParty(aggregator.port, name, token);
  const update = new Float32Array(params).fill(0.25);
  const weights = unpackWeights(manifest, new Uint8Array(update.buffer));
  const uploadMs = [];
  const downloadMs = [];
  try {
    await party.join(manifest);
    await party.follow({
      onTrain: async (round) => {
        let t = now();
        await downloadModel(party.client, party.metadata(), manifest, round - 1, chunkSize);
        downloadMs.push(now() - t);
        t = now();
        await uploadUpdate(party.client, party.metadata(), weights, chunkSize, { round, numExamples: 100, metrics: {}, trainSeconds: 0 });
        uploadMs.push(now() - t);
      },
    });
    await aggregator.done;
  } finally {
    party.close();
    await aggregator.finish().catch(() => aggregator.kill());
  }
  const tcpUp = await tcpTransfer("sink", total, rounds);
  const tcpDown = await tcpTransfer("source", total, rounds);
  const bare = await grpcBareTransfer(total, chunkSize, rounds);
  const up = rate(total, median(uploadMs));
  const down = rate(total, median(downloadMs));
  return {
    figures: {
      upload_vs_tcp: up / tcpUp, download_vs_tcp: down / tcpDown,
      grpc_bare_upload_vs_tcp: bare.up / tcpUp, grpc_bare_download_vs_tcp: bare.down / tcpDown,
    },
    ratios: { upload_vs_grpc_bare: up / bare.up, download_vs_grpc_bare: down / bare.down },
    detail: `${(total / 1e6).toFixed(0)} MB, ${chunkSize} B chunks, median of ${rounds}: gRPC upload ${mbps(up)} vs TCP ${mbps(tcpUp)} vs bare grpc-js ${mbps(bare.up)}; gRPC download ${mbps(down)} vs TCP ${mbps(tcpDown)} vs bare grpc-js ${mbps(bare.down)} (aggregator and peers in a child process)`,
  };
}

/** Bytes/s of `bytes` sent to (sink) or received from (source) a child process over loopback TCP; median of `times`. */
async function tcpTransfer(mode, bytes, times) {
  const child = spawn(process.execPath, [TCP_CHILD, mode, String(bytes)], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const ms = [];
  for (let i = 0; i < times; i++) {
    const t = now();
    await new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", reject);
      if (mode === "sink") {
        // Send all bytes; the child closes the socket once it has them all.
        socket.on("connect", () => pumpBytes(socket, chunk, bytes));
        socket.on("close", resolve);
        socket.resume();
      } else {
        let received = 0;
        socket.on("data", (d) => { received += d.length; });
        socket.on("close", () => (received === bytes ? resolve() : reject(new Error(`tcp: ${received} of ${bytes} bytes`))));
      }
    });
    ms.push(now() - t);
  }
  child.kill();
  return rate(bytes, median(ms));
}

/** Bytes/s of `bytes` sent to (Sink) and received from (Source) a bare grpc-js child process in `chunkSize` messages; medians of `times`. */
async function grpcBareTransfer(bytes, chunkSize, times) {
  const child = spawn(process.execPath, [GRPC_BARE_CHILD, String(chunkSize)], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
  const Client = grpc.makeGenericClientConstructor(BARE_SERVICE, "Bare");
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), TRANSFER_CHANNEL_OPTIONS);
  const chunk = Buffer.alloc(chunkSize, 7);
  const upMs = [];
  const downMs = [];
  try {
    // One unmeasured pass first: JIT and window ramp-up, which Cohort's own path also pays once.
    for (let i = -1; i < times; i++) {
      let t = now();
      const received = await new Promise((resolve, reject) => {
        const call = client.Sink((error, reply) => (error ? reject(error) : resolve(Number(reply.toString()))));
        pumpBytes(call, chunk, bytes, () => call.end());
      });
      if (i >= 0) upMs.push(now() - t);
      if (received !== bytes) throw new Error(`bare grpc-js upload: ${received} of ${bytes} bytes`);
      t = now();
      let got = 0;
      await new Promise((resolve, reject) => {
        const call = client.Source(Buffer.from(String(bytes)));
        call.on("data", (d) => { got += d.length; });
        call.on("error", reject);
        call.on("end", resolve);
      });
      if (i >= 0) downMs.push(now() - t);
      if (got !== bytes) throw new Error(`bare grpc-js download: ${got} of ${bytes} bytes`);
    }
  } finally {
    client.close();
    child.kill();
  }
  return { up: rate(bytes, median(upMs)), down: rate(bytes, median(downMs)) };
}
