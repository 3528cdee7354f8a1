import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { dump as dumpYaml } from "js-yaml";
import { ProgressLine, progressBar } from "@cohort/telemetry";

export interface DemoOptions {
  out?: string;
  parties: number;
  rounds: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Where progress lines go (stdout by default). */
  print?: (line: string) => void;
}

export const DEMO_DEFAULTS = { parties: 3, rounds: 8, epochs: 1, batchSize: 32, lr: 0.002 } as const;

const CLI_ENTRY = fileURLToPath(new URL("../main.js", import.meta.url));
const DEMO_MODEL = fileURLToPath(new URL("../../../../examples/mnist-tfjs/model.mjs", import.meta.url));

/**
 * `cohort demo`: one aggregator and N parties as separate OS processes on loopback, each party
 * training on its own shard of the embedded MNIST digits. Prints a line per round and the
 * run directory; returns the process exit code.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  // On a terminal a live status line (phase, uploads, seconds) sits under the round lines.
  const progress = new ProgressLine(process.stdout, { enabled: options.print ? false : undefined });
  const print = options.print ?? ((line: string) => progress.print(line));
  const out = resolve(options.out ?? join("runs", `demo-${new Date().toISOString().replace(/[:.]/g, "-")}`));
  // A demo directory is the demo's own: a previous demo run in it is replaced, not resumed.
  await rm(join(out, "run"), { recursive: true, force: true });
  await mkdir(join(out, "logs"), { recursive: true });
  const parties = Array.from({ length: options.parties }, (_, i) => ({ name: `party${i}`, token: `demo-token-${i}-${Math.random().toString(36).slice(2, 10)}` }));

  const aggregatorConfig = {
    connection: { info: { ip: "127.0.0.1", port: 0 } },
    fusion: { name: "FedAvg" },
    hyperparams: {
      global: { rounds: options.rounds, num_parties: options.parties, perc_quorum: 1, max_timeout: 300 },
      local: { training: { epochs: options.epochs, batch_size: options.batchSize }, optimizer: { lr: options.lr } },
    },
    output_dir: join(out, "run"),
    parties,
  };
  await writeFile(join(out, "aggregator.yml"), dumpYaml(aggregatorConfig));
  print(`cohort demo: 1 aggregator + ${options.parties} parties on loopback, ${options.rounds} rounds, MNIST digits; logs in ${join(out, "logs")}`);

  const started = Date.now();
  const children: ChildProcess[] = [];
  const stopAll = () => children.forEach((c) => c.exitCode === null && c.kill("SIGTERM"));
  process.once("SIGINT", stopAll);
  const status = { text: "starting the aggregator", since: Date.now() };
  const setStatus = (text: string) => {
    status.text = text;
    progress.update(`${text}  ${((Date.now() - status.since) / 1000).toFixed(0)} s`, true);
  };
  const ticker = progress.enabled ? setInterval(() => setStatus(status.text), 1000) : undefined;
  let joined = 0;
  let accepted = 0;
  try {
    const aggregator = spawnService(["aggregator", "--config", join(out, "aggregator.yml")], join(out, "logs", "aggregator.log"));
    children.push(aggregator);
    let roundStarted = Date.now();
    let port: number | undefined;
    const portReady = new Promise<number>((resolvePort, reject) => {
      aggregator.once("exit", (code) => reject(new Error(`aggregator exited with code ${code} before listening; see ${join(out, "logs", "aggregator.log")}`)));
      createInterface({ input: aggregator.stdout! }).on("line", (line) => {
        const event = parseEvent(line);
        if (!event) return;
        if (event.phase === "listen" && typeof event.port === "number") resolvePort(event.port);
        if (event.phase === "join" && event.msg === "party joined") {
          joined += 1;
          if (!accepted) setStatus(`waiting for parties ${progressBar(joined / options.parties, 10)} ${joined}/${options.parties} joined`);
        }
        if (event.phase === "train" && event.msg === "round started" && Number(event.round) >= 1) {
          roundStarted = Date.now();
          status.since = roundStarted;
          accepted = 0;
          setStatus(`round ${event.round}/${options.rounds}  training  0/${options.parties} updates`);
        }
        if (event.phase === "upload" && event.msg === "update accepted" && Number(event.round) >= 1) {
          accepted += 1;
          setStatus(`round ${event.round}/${options.rounds}  ${accepted < options.parties ? "training" : "aggregating, evaluating"}  ${progressBar(accepted / options.parties, 10)} ${accepted}/${options.parties} updates`);
        }
        if (event.phase === "round-done") {
          const evaluation = (event.eval ?? {}) as Record<string, number>;
          progress.end();
          print(`round ${event.round}/${options.rounds}  accuracy ${fmt(evaluation.accuracy)}  loss ${fmt(evaluation.loss)}  ${((Date.now() - roundStarted) / 1000).toFixed(1)} s`);
          status.since = Date.now();
          setStatus(Number(event.round) < options.rounds ? `round ${Number(event.round) + 1}/${options.rounds}  starting` : "writing the final model");
        }
        if (typeof event.level === "number" && event.level >= 50) print(`aggregator error: ${event.msg}`);
      });
    });
    port = await portReady;

    for (const [i, party] of parties.entries()) {
      const config = {
        aggregator: { ip: "127.0.0.1", port },
        party: { name: party.name },
        token: party.token,
        data: { name: "mnist", info: { party_index: i, num_parties: options.parties } },
        model: { name: "TfjsModuleModel", spec: { model_definition: DEMO_MODEL } },
        // All parties share this machine: each trains on its share of the cores (wasm threads).
        threads: Math.max(1, Math.floor(availableParallelism() / options.parties)),
      };
      const file = join(out, `${party.name}.yml`);
      await writeFile(file, dumpYaml(config));
      children.push(spawnService(["party", "--config", file], join(out, "logs", `${party.name}.log`)));
    }

    const code = await new Promise<number>((resolveExit) => aggregator.once("exit", (c) => resolveExit(c ?? 1)));
    await Promise.all(children.slice(1).map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
    const summary = JSON.parse(await readFile(join(out, "run", "summary.json"), "utf8").catch(() => "null"));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    progress.end();
    if (code !== 0 || !summary) {
      print(`demo failed (aggregator exit code ${code}) after ${seconds} s; see ${join(out, "logs")}`);
      return code || 1;
    }
    print(`done in ${seconds} s: ${summary.rounds_completed} rounds, final held-out accuracy ${fmt(summary.final.accuracy)}`);
    print(`run directory: ${join(out, "run")} (metrics.jsonl, summary.json, checkpoints/, model/)`);
    return 0;
  } finally {
    if (ticker) clearInterval(ticker);
    progress.end();
    process.off("SIGINT", stopAll);
    stopAll();
  }
}

function spawnService(args: string[], logFile: string): ChildProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "info" } });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

function parseEvent(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function fmt(value: unknown): string {
  return typeof value === "number" ? value.toFixed(4) : "n/a";
}
