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
import { benchChunkSize, floatManifest, mbps, median, now, partyList, rate, spawnAggregator, tempDir } from "./lib/common.mjs";
import { LeanParty } from "./lib/lean-party.mjs";

const TCP_CHILD = fileURLToPath(new URL("./lib/tcp-child.mjs", import.meta.url));

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
  const up = rate(total, median(uploadMs));
  const down = rate(total, median(downloadMs));
  return {
    figures: { upload_vs_tcp: up / tcpUp, download_vs_tcp: down / tcpDown },
    detail: `${(total / 1e6).toFixed(0)} MB, ${chunkSize} B chunks, median of ${rounds}: gRPC upload ${mbps(up)} vs TCP ${mbps(tcpUp)}; gRPC download ${mbps(down)} vs TCP ${mbps(tcpDown)} (aggregator and TCP peer in a child process)`,
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
