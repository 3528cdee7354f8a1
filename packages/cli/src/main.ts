#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { ConfigError } from "@cohort/config";
import { runAggregatorCommand } from "./commands/aggregator.js";
import { DEMO_DEFAULTS, runDemo } from "./commands/demo.js";
import { runPartyCommand } from "./commands/party.js";
import { runReportCommand } from "./commands/report.js";
import { aggregatorModelHooks } from "./model-hooks.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("expected a port number (0-65535)");
  return n;
}

const program = new Command()
  .name("cohort")
  .description("Federated learning over gRPC: one aggregator, one party per data holder.")
  .showHelpAfterError();

program.command("aggregator")
  .description("run the aggregator service")
  .requiredOption("-c, --config <file>", "aggregator YAML config")
  .option("--port <port>", "override connection.info.port", port)
  .option("--output-dir <dir>", "override output_dir")
  .option("--metrics-port <port>", "serve /metrics, /healthz, /readyz on this port (metrics.port; 0 picks one)", port)
  .option("--pretty", "human-readable logs instead of JSON lines")
  .action(async (options) => { process.exitCode = await runAggregatorCommand(options, aggregatorModelHooks()); });

program.command("party")
  .description("run a party service")
  .requiredOption("-c, --config <file>", "party YAML config")
  .option("--port <port>", "override aggregator.port", port)
  .option("--metrics-port <port>", "serve /metrics, /healthz, /readyz on this port (metrics.port; 0 picks one)", port)
  .option("--pretty", "human-readable logs instead of JSON lines")
  .action(async (options) => { process.exitCode = await runPartyCommand(options); });

program.command("demo")
  .description("an aggregator and parties as separate processes on loopback, training a CNN on MNIST shards")
  .option("--out <dir>", "directory for configs, logs and the run (default runs/demo-<time>)")
  .option("--parties <n>", "number of parties", positiveInt, DEMO_DEFAULTS.parties)
  .option("--rounds <n>", "number of rounds", positiveInt, DEMO_DEFAULTS.rounds)
  .option("--epochs <n>", "local epochs per round", positiveInt, DEMO_DEFAULTS.epochs)
  .option("--batch-size <n>", "local batch size", positiveInt, DEMO_DEFAULTS.batchSize)
  .option("--lr <rate>", "learning rate", Number, DEMO_DEFAULTS.lr)
  .action(async (options) => { process.exitCode = await runDemo(options); });

program.command("report")
  .description("write a self-contained HTML report (SVG charts) of a run directory")
  .argument("<run-dir>", "the aggregator's output_dir (metrics.jsonl, summary.json)")
  .option("--out <file>", "where to write the report (default <run-dir>/report.html)")
  .option("--svg", "also write each chart as an .svg file next to the report")
  .action(async (runDir: string, options) => { process.exitCode = await runReportCommand(runDir, options); });

try {
  await program.parseAsync();
} catch (error) {
  // Config and input errors are the user's to fix: print the message, not a stack.
  if (error instanceof ConfigError || (error instanceof Error && error.name.endsWith("Error") && "code" in error)) {
    process.stderr.write(`cohort: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
