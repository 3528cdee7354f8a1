// upload_vs_tcp / download_vs_tcp: an aggregator in a child process and a party in this one,
// over loopback gRPC with TLS off. The party side uses the party service's own uploadUpdate
// (pack, SHA-256, chunks; the aggregator stages, hashes, checks finiteness and folds before it
// answers) and downloadModel (chunks reassembled and digest-checked). Baseline: the same bytes
// over a raw TCP socket between the same two processes (a child process sink/source).
import { pumpBytes } from "./lib/pump.mjs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { downloadModel, uploadUpdate } from "@cohort/party";
import { manifestByteLength, unpackWeights } from "@cohort/tensors";
import { defaultWireCodec } from "@cohort/wire";
import { floatManifest, mbps, median, now, partyList, rate, spawnAggregator, tempDir } from "./lib/common.mjs";
import { LeanParty } from "./lib/lean-party.mjs";

const TCP_CHILD = fileURLToPath(new URL("./lib/tcp-child.mjs", import.meta.url));

export async function uploadDownloadVsTcp({ full }) {
  const params = full ? 50_000_000 : 8_000_000;
  const rounds = 3;
  const manifest = floatManifest(params, 16 * 1024 * 1024);
  const total = manifestByteLength(manifest);
  // BENCH_CHUNK_SIZE: chunk bytes (default 1 MiB, the aggregator's default); at most 4 MiB - 64 KiB.
  const chunkSize = Number(process.env.BENCH_CHUNK_SIZE ?? 1024 * 1024);
  // BENCH_WIRE_AB=n: n alternating pairs of federations, wire codec "fast" then "protobufjs"
  // (COHORT_WIRE_CODEC in both processes), each reported; the figures are the default codec's.
  const pairs = Number(process.env.BENCH_WIRE_AB ?? 0);
  const codecs = pairs > 0 ? Array.from({ length: 2 * pairs }, (_, i) => (i % 2 ? "protobufjs" : "fast")) : [undefined];
  const runs = [];
  for (const codec of codecs) runs.push({ codec, ...(await grpcTransfers({ manifest, total, rounds, chunkSize, codec })) });
  const tcpUp = await tcpTransfer("sink", total, rounds);
  const tcpDown = await tcpTransfer("source", total, rounds);
  const main = runs.filter((r) => (r.codec ?? defaultWireCodec()) === defaultWireCodec());
  const up = median(main.map((r) => r.up));
  const down = median(main.map((r) => r.down));
  const ratios = {};
  let ab = "";
  if (pairs > 0) {
    for (const codec of ["fast", "protobufjs"]) {
      const mine = runs.filter((r) => r.codec === codec);
      ratios[`upload_vs_tcp_${codec}`] = median(mine.map((r) => r.up)) / tcpUp;
      ratios[`download_vs_tcp_${codec}`] = median(mine.map((r) => r.down)) / tcpDown;
      ab += `; ${codec}: upload ${mine.map((r) => mbps(r.up)).join(", ")}, download ${mine.map((r) => mbps(r.down)).join(", ")}`;
    }
  }
  return {
    figures: { upload_vs_tcp: up / tcpUp, download_vs_tcp: down / tcpDown },
    ratios,
    detail: `${(total / 1e6).toFixed(0)} MB, ${chunkSize} B chunks, median of ${rounds}: gRPC upload ${mbps(up)} vs TCP ${mbps(tcpUp)}; gRPC download ${mbps(down)} vs TCP ${mbps(tcpDown)} (aggregator and TCP peer in a child process)${ab}`,
  };
}

/** Upload and download bytes/s (median of `rounds`) of one federation with the aggregator in a child process. */
async function grpcTransfers({ manifest, total, rounds, chunkSize, codec }) {
  const previous = process.env.COHORT_WIRE_CODEC;
  if (codec) process.env.COHORT_WIRE_CODEC = codec; // the aggregator child inherits it
  const aggregator = await spawnAggregator({ manifest, numParties: 1, rounds, chunkSize, initial: "zeros", outputDir: await tempDir("transfer"), stagingMemoryBytes: 2 * total });
  if (codec) {
    if (previous === undefined) delete process.env.COHORT_WIRE_CODEC;
    else process.env.COHORT_WIRE_CODEC = previous;
  }
  const [{ name, token }] = partyList(1);
  const party = new LeanParty(aggregator.port, name, token, { codec });
  const update = new Float32Array(total / 4).fill(0.25);
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
  return { up: rate(total, median(uploadMs)), down: rate(total, median(downloadMs)) };
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
