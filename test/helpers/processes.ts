import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { tempDir } from "./temp-dirs.js";

export const CLI = join(process.cwd(), "packages/cli/dist/main.js");

/** A `cohort` process whose JSON log events are kept and can be awaited. */
export class CohortProcess {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[] = [];
  private waiters: { match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  readonly exited: Promise<number | null>;
  /** Everything the process wrote on stderr (error messages, the live progress line is off when piped). */
  stderr = "";

  /** `env`: extra environment variables (e.g. `LOG_LEVEL: "debug"`); `cwd`: its working directory (default this process's). */
  constructor(args: string[], env: Record<string, string> = {}, cwd?: string) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info", ...env }, ...(cwd === undefined ? {} : { cwd }) });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      this.events.push(event);
      for (const w of [...this.waiters]) {
        if (w.match(event)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => { this.stderr += chunk.toString(); });
  }

  /** Resolves with the first event (already seen or to come) that matches. */
  waitFor(match: (e: Record<string, unknown>) => boolean, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a log event")), timeoutMs);
      this.waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Processes started by a test file, all killed at its end. */
export class ProcessGroup {
  private readonly all: CohortProcess[] = [];

  start(args: string[], env: Record<string, string> = {}, cwd?: string): CohortProcess {
    const p = new CohortProcess(args, env, cwd);
    this.all.push(p);
    return p;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.map((p) => p.kill()));
  }
}

export interface TwoPartyOptions {
  rounds: number;
  percQuorum?: number;
  epochs?: number;
  batchSize?: number;
  maxExamples: number;
  /** A model module (default: examples/mnist-tfjs/model.mjs). */
  model?: string;
  /** `connection.info.chunk_size` (default: the aggregator's). */
  chunkSize?: number;
  /** `hyperparams.global.evaluate_every` (default 1). */
  evaluateEvery?: number;
  /** The parties' `model` section as YAML flow (default: TfjsModuleModel of `model`). */
  modelSection?: string;
  /** Extra `data.info` keys as YAML flow pairs, e.g. `layout: nchw`. */
  dataInfo?: string;
}

/**
 * Writes an aggregator config and configs for parties p0 and p1 (MNIST shards, the example CNN,
 * fast reconnects) into a fresh directory (removed at the end of the test file), on a free loopback port.
 */
export async function writeTwoPartyFederation(options: TwoPartyOptions): Promise<{ dir: string; aggregatorArgs: string[]; partyArgs: (i: number) => string[] }> {
  const { writeFile } = await import("node:fs/promises");
  const { freePort } = await import("./federation.js");
  const dir = await tempDir("cohort-e2e-");
  const model = options.model ?? join(process.cwd(), "examples/mnist-tfjs/model.mjs");
  const port = await freePort();
  await writeFile(join(dir, "aggregator.yml"), [
    `connection: {info: {ip: 127.0.0.1, port: ${port}${options.chunkSize ? `, chunk_size: ${options.chunkSize}` : ""}}}`,
    `hyperparams: {global: {rounds: ${options.rounds}, num_parties: 2, perc_quorum: ${options.percQuorum ?? 1}, max_timeout: 60, evaluate_every: ${options.evaluateEvery ?? 1}}, local: {training: {epochs: ${options.epochs ?? 1}, batch_size: ${options.batchSize ?? 32}}}}`,
    "output_dir: run",
    "parties: [{name: p0, token: token-p0-123}, {name: p1, token: token-p1-123}]",
  ].join("\n"));
  for (const i of [0, 1]) {
    await writeFile(join(dir, `p${i}.yml`), [
      `aggregator: {ip: 127.0.0.1, port: ${port}}`, `party: {name: p${i}}`, `token: token-p${i}-123`,
      `data: {name: mnist, info: {party_index: ${i}, num_parties: 2, max_examples: ${options.maxExamples}${options.dataInfo ? `, ${options.dataInfo}` : ""}}}`,
      `model: ${options.modelSection ?? `{name: TfjsModuleModel, spec: {model_definition: ${model}}}`}`,
      "reconnect: {initial_delay_ms: 100, max_delay_ms: 500}",
      // Both parties share this machine's cores (as the demo's do): one wasm thread each keeps the
      // crash tests' timing what it was before data-parallel training (CI saw a round close early).
      "threads: 1",
    ].join("\n"));
  }
  return {
    dir,
    aggregatorArgs: ["aggregator", "--config", join(dir, "aggregator.yml")],
    partyArgs: (i) => ["party", "--config", join(dir, `p${i}.yml`)],
  };
}
