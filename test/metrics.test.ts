import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { AggregatorMetrics, PartyMetrics, startOpsServer } from "@cohort/telemetry";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { readRoundLines, startAggregator, startParties } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [100, 10] }] };
const TENSOR_BYTES = 100 * 10 * 4;
const cleanup: (() => unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0)) await f(); });

/** Scrapes an ops server and returns one sample's value (undefined when the sample is absent). */
async function scrape(url: string): Promise<(sample: string) => number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return (sample) => {
    const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
    return line === undefined ? undefined : Number(line.slice(sample.length + 1));
  };
}

describe("Prometheus metrics of a running federation", () => {
  it("move as rounds complete: rounds, phase, bytes, accuracy, party counters", async () => {
    const metrics = new AggregatorMetrics();
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 3, numParties: 2 }, { metrics });
    cleanup.push(() => aggregator.forceClose());
    const ops = await startOpsServer({ host: "127.0.0.1", port: 0, registry: metrics.registry, ready: () => undefined });
    cleanup.push(() => ops.close());

    const before = await scrape(ops.url);
    expect(before("cohort_aggregator_rounds_completed_total")).toBe(0);
    expect(before("cohort_aggregator_received_bytes_total")).toBe(0);
    expect(before('cohort_aggregator_global_metric{metric="probe"}')).toBeUndefined();

    const partyMetrics = [new PartyMetrics(), new PartyMetrics()];
    const learners = [new ArithmeticLearner(manifest, 100, 1), new ArithmeticLearner(manifest, 300, 2)];
    // Scraped from inside round 2 (party0's training, before its upload): round 1 is complete.
    let midRun: Promise<(sample: string) => number | undefined> | undefined;
    learners[0].beforeUpload = () => { if (learners[0].trainedRounds === 2) midRun = scrape(ops.url); };
    const run = aggregator.run();
    const parties = startParties(port, learners, cleanup, {
      settings: () => ({ reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 20 } }), extras: (i) => ({ metrics: partyMetrics[i] }),
    });
    expect((await run).rounds_completed).toBe(3);
    await Promise.all(parties);

    const during = await midRun!;
    expect(during("cohort_aggregator_rounds_completed_total")).toBe(1);
    expect(during("cohort_aggregator_current_round")).toBe(2);
    expect(during('cohort_aggregator_phase{phase="train"}')).toBe(1);
    expect(during("cohort_aggregator_parties_connected")).toBe(2);

    const after = await scrape(ops.url);
    expect(after("cohort_aggregator_rounds_completed_total")).toBe(3);
    expect(after('cohort_aggregator_phase{phase="done"}')).toBe(1);
    expect(after("cohort_aggregator_parties_contributing")).toBe(2);
    // Initial weights + 2 updates per round in; each party downloads rounds 0..3 once each.
    expect(after("cohort_aggregator_received_bytes_total")).toBe((1 + 2 * 3) * TENSOR_BYTES);
    expect(after("cohort_aggregator_sent_bytes_total")).toBe(2 * 4 * TENSOR_BYTES);
    expect(after("cohort_aggregator_received_bytes_total")!).toBeGreaterThan(during("cohort_aggregator_received_bytes_total")!);
    expect(after('cohort_aggregator_global_metric{metric="probe"}')).toBeCloseTo((await readRoundLines(outputDir)).at(-1)!.eval.probe, 6);
    expect(after('cohort_aggregator_phase_duration_seconds_count{phase="round"}')).toBe(3);

    const party0 = await startOpsServer({ host: "127.0.0.1", port: 0, registry: partyMetrics[0].registry, ready: () => undefined });
    cleanup.push(() => party0.close());
    const p0 = await scrape(party0.url);
    expect(p0("cohort_party_rounds_trained_total")).toBe(3);
    expect(p0("cohort_party_train_duration_seconds_count")).toBe(3);
    expect(p0('cohort_party_local_metric{metric="loss"}')).toBeCloseTo(1 / 4, 6);
    expect(p0("cohort_party_downloaded_bytes_total")).toBe(4 * TENSOR_BYTES);
    expect(p0('cohort_party_eval_metric{metric="probe"}')).toBeDefined();
  });

  it("counts a refused upload under a short reason code", async () => {
    const metrics = new AggregatorMetrics();
    const { aggregator, port } = await startAggregator({ rounds: 1, numParties: 1 }, { metrics });
    cleanup.push(() => aggregator.forceClose());
    const { RawClient } = await import("./helpers/raw-client.js");
    const client = new RawClient(port, "party0", "token-of-party-0");
    cleanup.push(() => client.close());
    await client.join(manifest);
    const { call, result } = client.startUpload();
    call.write({ kind: "header", header: { round: 5, numExamples: 10, metrics: {}, trainSeconds: 0 } } as never);
    call.end();
    await result.catch(() => undefined);
    // Round 5 is not open (the federation waits for its parties): refused as round_closed.
    expect(await metrics.text()).toMatch(/^cohort_aggregator_rejected_updates_total\{reason="round_closed"\} 1$/m);
  });
});

describe("cohort aggregator --metrics-port", () => {
  it("serves /healthz, /readyz and /metrics from the real process", async () => {
    const dir = await tempDir("cohort-metrics-");
    const file = join(dir, "aggregator.yml");
    await writeFile(file, `connection: {info: {ip: 127.0.0.1, port: 0}}\nhyperparams: {global: {rounds: 1, num_parties: 1, max_timeout: 30}}\noutput_dir: ${join(dir, "run")}\nparties: [{name: p0, token: token-of-p0}]\n`);
    const child = spawn(process.execPath, [join(process.cwd(), "packages/cli/dist/main.js"), "aggregator", "--config", file, "--metrics-port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    cleanup.push(() => child.kill("SIGKILL"));
    const url = await new Promise<string>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`aggregator exited with ${code}`)));
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const event = JSON.parse(line) as { phase?: string; url?: string };
        if (event.phase === "metrics") resolve(event.url!.replace(/\/metrics$/, ""));
      });
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // Ready as soon as gRPC listens; poll briefly, since the log line comes first.
    let ready = 0;
    for (let i = 0; i < 50 && ready !== 200; i++, await new Promise((r) => setTimeout(r, 100))) ready = (await fetch(`${url}/readyz`)).status;
    expect(ready).toBe(200);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^cohort_aggregator_phase\{phase="waiting"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});
