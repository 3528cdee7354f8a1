import { spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { hasOpenssl, makeDevCerts } from "./helpers/dev-certs.js";
import { freePort, startAggregator } from "./helpers/federation.js";
import { CLI } from "./helpers/processes.js";
import { tempDir } from "./helpers/temp-dirs.js";
import { mountTmpfs, tmpfsSkipReason } from "./helpers/tmpfs.js";

/**
 * One test per row of the README's exit-code table, each running the built `cohort` as a user
 * would: 1 = a restart may repair it, 2 = fix an input first. Commands that must wait (an
 * aggregator that starts fine) are stopped once they have shown they did.
 */
interface Outcome { code: number | null; stderr: string; events: Record<string, unknown>[] }

const running = new Set<ReturnType<typeof spawn>>();
afterAll(() => { for (const child of running) child.kill("SIGKILL"); });

function cohort(args: string[], options: { until?: (e: Record<string, unknown>) => boolean; cwd?: string } = {}): Promise<Outcome> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info", NO_PROGRESS: "1" } });
  running.add(child);
  const events: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.on("data", (d) => { stderr += String(d); });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      if (options.until?.(event)) child.kill("SIGKILL");
    } catch { /* not a log line (e.g. certs, report output) */ }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => child.once("close", (code) => {
    clearTimeout(timer);
    running.delete(child);
    resolve({ code, stderr, events });
  }));
}

async function aggregatorConfig(dir: string, extra: string[] = []): Promise<string> {
  const file = join(dir, "aggregator.yml");
  await writeFile(file, [
    `connection: {info: {ip: 127.0.0.1, port: ${await freePort()}}}`,
    "hyperparams: {global: {rounds: 1, num_parties: 1, max_timeout: 30}}",
    "parties: [{name: p0, token: token-p0-123}]",
    ...extra,
  ].join("\n"));
  return file;
}

/** A party config (MNIST shard, `model`); by default its aggregator is a closed port and it gives up after one retry. */
async function partyConfig(dir: string, model: string, options: { aggregator?: string; reconnect?: string } = {}): Promise<string> {
  const file = join(dir, "p0.yml");
  await writeFile(file, [
    `aggregator: ${options.aggregator ?? "{ip: 127.0.0.1, port: 1}"}`, "party: {name: p0}", "token: token-p0-123",
    "data: {name: mnist, info: {party_index: 0, num_parties: 2, max_examples: 100}}",
    model, `reconnect: ${options.reconnect ?? "{initial_delay_ms: 50, max_delay_ms: 100, max_attempts: 1}"}`,
  ].join("\n"));
  return file;
}

describe("exit code 2: an input to fix before a restart can help", () => {
  it("aggregator: a config error (the file and key named)", async () => {
    const dir = await tempDir("cohort-exit-");
    const config = await aggregatorConfig(dir, ["output_dirr: run"]);
    const { code, stderr } = await cohort(["aggregator", "--config", config]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${config}: output_dirr: unknown key (did you mean "output_dir"?)`);
  });

  it("command line: a missing required option or a bad value (commander's own 1 would mean 'restart me')", async () => {
    expect((await cohort(["aggregator"])).code).toBe(2);
    const demo = await cohort(["demo", "--parties", "0"]);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toContain("expected a positive integer");
  });

  it("party: model_definition names a missing file: the message names the config key", async () => {
    const dir = await tempDir("cohort-exit-");
    const config = await partyConfig(dir, "model: {name: KerasFLModel, spec: {model_definition: missing.h5}}");
    const { code, stderr, events } = await cohort(["party", "--config", config]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${config}: model.spec.model_definition: file not found: ${join(dir, "missing.h5")} (relative paths resolve against ${dir})`);
    expect(events.find((e) => e.phase === "fatal")?.exit_code).toBe(2);
  });

  it("party: a PyTorch file that is no pickle and an ONNX file that is no model (they exited 1)", async () => {
    const dir = await tempDir("cohort-exit-");
    await writeFile(join(dir, "model.pt"), Buffer.from("\x80\x05\x95garbage, not a torch.save zip or pickle"));
    const pt = await partyConfig(dir, "model: {name: PytorchFLModel, spec: {model_definition: model.pt, loss_criterion: nn.NLLLoss, optimizer: optim.SGD}}");
    const torch = await cohort(["party", "--config", pt]);
    expect(torch.code).toBe(2);
    expect(torch.stderr).toContain(`${pt}: model (PytorchFLModel): ${join(dir, "model.pt")}`);

    await writeFile(join(dir, "model.onnx"), Buffer.from("not an onnx protobuf at all"));
    const onnx = await cohort(["model", "inspect", join(dir, "model.onnx")]);
    expect(onnx.code).toBe(2);
    expect(onnx.stderr).toContain(join(dir, "model.onnx"));
  });

  it("report: no run directory; certs: a name that cannot be a certificate subject", async () => {
    const dir = await tempDir("cohort-exit-");
    const report = await cohort(["report", dir]);
    expect(report.code).toBe(2);
    expect(report.stderr).toContain("no metrics.jsonl or summary.json here");
    const certs = await cohort(["certs", "--out", join(dir, "pki"), "--party", "bad/name"]);
    expect(certs.code).toBe(2);
    expect(certs.stderr).toMatch(hasOpenssl() ? /cannot be a certificate subject/ : /openssl was not found/);
  });

  it.skipIf(!hasOpenssl())("aggregator: a TLS key other users may read is refused with the fix; --allow-insecure-key-permissions accepts it", async () => {
    const certs = makeDevCerts([]);
    await chmod(certs.server.key, 0o644);
    const dir = await tempDir("cohort-exit-");
    const config = join(dir, "aggregator.yml");
    await writeFile(config, [
      `connection: {info: {ip: 127.0.0.1, port: 0, tls_config: {enable: true, cert: ${certs.server.cert}, key: ${certs.server.key}}}}`,
      "hyperparams: {global: {rounds: 1, num_parties: 1, max_timeout: 30}}", "parties: [{name: p0, token: token-p0-123}]", "output_dir: run",
    ].join("\n"));
    const refused = await cohort(["aggregator", "--config", config]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${certs.server.key}: private key is readable by other users (mode 0644); run chmod 600 ${certs.server.key}`);
    expect(refused.events.find((e) => e.phase === "fatal")).toMatchObject({ code: "KEY_PERMISSIONS", exit_code: 2 });
    const allowed = await cohort(["aggregator", "--config", config, "--allow-insecure-key-permissions"], { until: (e) => e.phase === "listen" });
    expect(allowed.events.some((e) => e.phase === "listen" && e.tls === "server")).toBe(true);
  });
});

describe.skipIf(!hasOpenssl())("exit code 2: a certificate refused at the TLS handshake", () => {
  it("party: no client certificate for an aggregator under mutual TLS: stops at once with the fix (it retried forever)", async () => {
    const certs = makeDevCerts(["p0"]);
    const { aggregator, port } = await startAggregator({ rounds: 1, numParties: 1, parties: [{ name: "p0", token: "token-p0-123" }], tls: { certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca } });
    try {
      const dir = await tempDir("cohort-exit-");
      // max_attempts 0: it would retry forever, were the refusal not recognised.
      const config = await partyConfig(dir, `model: {name: TfjsModuleModel, spec: {model_definition: ${join(process.cwd(), "examples/mnist-tfjs/model.mjs")}}}`,
        { aggregator: `{ip: 127.0.0.1, port: ${port}, tls_config: {enable: true, ca: ${certs.ca}}}`, reconnect: "{initial_delay_ms: 50, max_delay_ms: 100, max_attempts: 0}" });
      const { code, stderr, events } = await cohort(["party", "--config", config]);
      expect(code).toBe(2);
      expect(stderr).toContain("set aggregator.tls_config.cert and key");
      expect(events.find((e) => e.phase === "tls")?.level).toBe(50);
    } finally {
      aggregator.forceClose();
    }
  });
});

describe("exit code 1: a restart may repair it", () => {
  it("party: the aggregator stayed unreachable for reconnect.max_attempts", async () => {
    const dir = await tempDir("cohort-exit-");
    const config = await partyConfig(dir, `model: {name: TfjsModuleModel, spec: {model_definition: ${join(process.cwd(), "examples/mnist-tfjs/model.mjs")}}}`);
    const { code, events } = await cohort(["party", "--config", config]);
    expect(code).toBe(1);
    expect(events.some((e) => e.phase === "reconnect")).toBe(true);
  });
});

describe.skipIf(tmpfsSkipReason !== undefined)(`disks${tmpfsSkipReason ? ` (skipped: ${tmpfsSkipReason})` : ""}`, () => {
  it("aggregator: a read-only output_dir is exit code 2 at start, the path named, logged as a fatal event", async () => {
    const disk = mountTmpfs(64, ["ro"]);
    const dir = await tempDir("cohort-exit-");
    const config = await aggregatorConfig(dir, [`output_dir: ${join(disk, "run")}`]);
    const { code, stderr, events } = await cohort(["aggregator", "--config", config]);
    expect(code).toBe(2);
    expect(stderr).toContain(`output_dir ${join(disk, "run")}: not writable (EROFS)`);
    expect(events.find((e) => e.phase === "fatal")).toMatchObject({ code: "OUTPUT_DIR", file: join(disk, "run"), exit_code: 2 });
    expect(events.some((e) => e.phase === "listen")).toBe(false);
  });

  it("aggregator: a full disk is exit code 1 (a supervisor restarts it), with the path and ENOSPC in a fatal event", async () => {
    const disk = mountTmpfs(16);
    await writeFile(join(disk, "filler"), Buffer.alloc(16 * 1024)); // the disk is full
    await mkdir(join(disk, "run"));
    const dir = await tempDir("cohort-exit-");
    const config = await aggregatorConfig(dir, [`output_dir: ${join(disk, "run")}`]);
    const { code, stderr, events } = await cohort(["aggregator", "--config", config]);
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot write in output_dir ${join(disk, "run")}: ENOSPC`);
    expect(events.find((e) => e.phase === "fatal")).toMatchObject({ code: "ENOSPC", file: join(disk, "run"), exit_code: 1 });
  });
});
