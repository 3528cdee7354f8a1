#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { EXIT_INPUT, exitCodeFor } from "./exit-codes.js";
import { runAggregatorCommand } from "./commands/aggregator.js";
import { runBackendInstall } from "./commands/backend.js";
import { runCertsCommand } from "./commands/certs.js";
import { DEMO_DEFAULTS, runDemo } from "./commands/demo.js";
import { runPartyCommand } from "./commands/party.js";
import { runReportCommand } from "./commands/report.js";
import { MODEL_SPEC_HELP, runModelInspect, runModelPredict } from "./commands/model.js";
import { runModelTrain } from "./commands/model-train.js";
import { aggregatorModelHooks } from "./model-hooks.js";

/** A commander parser for an integer option from `min` to `max`; `expected` is its usage error. */
function integerIn(min: number, max: number, expected: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(expected);
    return n;
  };
}

const positiveInt = integerIn(1, Infinity, "expected a positive integer");
const port = integerIn(0, 65535, "expected a port number (0-65535)");
const seed = integerIn(0, 4294967295, "expected an integer from 0 to 4294967295");

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new InvalidArgumentError("expected a positive number");
  return n;
}

const program = new Command()
  .name("cohort")
  .description("Federated learning over gRPC: one aggregator, one party per data holder.")
  .showHelpAfterError()
  // Usage errors exit 2 like other input errors (commander's own default is 1, which the README
  // reserves for failures a restart may repair); help and --version still exit 0.
  .exitOverride();

program.command("aggregator")
  .description("run the aggregator service")
  .requiredOption("-c, --config <file>", "aggregator YAML config")
  .option("--port <port>", "override connection.info.port", port)
  .option("--output-dir <dir>", "override output_dir")
  .option("--metrics-port <port>", "serve /metrics, /healthz, /readyz on this port (metrics.port; 0 picks one)", port)
  .option("--insecure", "no TLS and no allow-list: any party name joins (IBM FL's configs name no parties; trusted networks only)")

  .option("--allow-insecure-key-permissions", "load a TLS private key that other users may read (refused by default)")
  .option("--pretty", "human-readable logs instead of JSON lines")
  .action(async (options) => { process.exitCode = await runAggregatorCommand(options, aggregatorModelHooks()); });

program.command("party")
  .description("run a party service")
  .requiredOption("-c, --config <file>", "party YAML config")
  .option("--port <port>", "override aggregator.port", port)
  .option("--metrics-port <port>", "serve /metrics, /healthz, /readyz on this port (metrics.port; 0 picks one)", port)
  .option("--seed <n>", "override seed: seeds local training's shuffling and dropout masks, for reproducible runs (0-4294967295)", seed)
  .option("--insecure", "no TLS and no token, for an aggregator started with --insecure; the name defaults to the config file's base name")

  .option("--allow-insecure-key-permissions", "load a TLS private key that other users may read (refused by default)")
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

program.command("certs")
  .description("create a development CA, the aggregator's certificate and one client certificate per party (uses openssl)")
  .requiredOption("--out <dir>", "directory for the PEM files (keys are written with mode 0600)")
  .option("--host <name>", "a DNS name or IP address of the aggregator (repeatable; default localhost and 127.0.0.1)", (v: string, all: string[] = []) => [...all, v])
  .option("--party <name>", "a party to issue a client certificate for (repeatable)", (v: string, all: string[] = []) => [...all, v])
  .option("-c, --config <file>", "take the party names from this aggregator config's parties list")
  .option("--days <n>", "validity in days", positiveInt, 365)
  .option("--force", "replace an existing CA in --out")
  .action(async (options) => { process.exitCode = await runCertsCommand(options); });

program.command("report")
  .description("write a self-contained HTML report (SVG charts) of a run directory")
  .argument("<run-dir>", "the aggregator's output_dir (metrics.jsonl, summary.json)")
  .option("--out <file>", "where to write the report (default <run-dir>/report.html)")
  .option("--svg", "also write each chart as an .svg file next to the report")
  .action(async (runDir: string, options) => { process.exitCode = await runReportCommand(runDir, options); });

const backendCommand = program.command("backend")
  .description("training backends: build the native TensorFlow one from a TensorFlow already on this machine");

backendCommand.command("install")
  .description("build @tensorflow/tfjs-node's binding against a TensorFlow C library that is present (no libtensorflow download)")
  .argument("<backend>", "the backend to install: tensorflow", (value: string) => {
    if (value !== "tensorflow") throw new InvalidArgumentError("only the tensorflow backend is built (wasm and cpu ship with Cohort)");
    return value;
  })
  .option("--from <dir>", "a TensorFlow install: pip package (site-packages/tensorflow), venv, or extracted libtensorflow archive (default: python3's tensorflow, then /usr/local)")
  .option("--gpu", "build @tensorflow/tfjs-node-gpu (default when an NVIDIA driver is loaded)")
  .action(async (_backend: string, options) => { process.exitCode = await runBackendInstall(options); });

const BACKEND_CHOICES = ["auto", "tensorflow", "wasm", "cpu"];
function backendChoice(value: string): string {
  if (!BACKEND_CHOICES.includes(value)) throw new InvalidArgumentError(`expected one of ${BACKEND_CHOICES.join(", ")}`);
  return value;
}

const modelCommand = program.command("model")
  .description("inspect a model, run it on an .npy batch, or train it locally, loaded as a party would load it")
  .addHelpText("after", `\n${MODEL_SPEC_HELP}`);

modelCommand.command("inspect")
  .description("format, layers, parameter count, manifest and fingerprint of a model")
  .argument("<spec>", "model file, spec file, model section or config file (see cohort model --help)")
  .option("--name <source>", "model source (model.name), e.g. KerasFLModel, PytorchFLModel, OnnxModel, TfjsModel")
  .option("--backend <backend>", "TensorFlow.js backend: auto, tensorflow, wasm or cpu", backendChoice, "auto")
  .option("--json", "print JSON instead of text")
  .option("--input-shape <dims>", "per-example input shape, e.g. 1,28,28, for a model file that has none (a PyTorch nn.Sequential) when its spec gives no input_shape")
  .addHelpText("after", `\n${MODEL_SPEC_HELP}`)
  .action(async (spec: string, options) => { process.exitCode = await runModelInspect(spec, options); });

modelCommand.command("predict")
  .description("batch inference: read an .npy input, write the model's float32 output as .npy")
  .argument("<spec>", "model file, spec file, model section or config file (see cohort model --help)")
  .requiredOption("--input <file>", "input .npy (first axis: batch; layout as the model takes it, NCHW for PyTorch/ONNX)")
  .requiredOption("--output <file>", "where to write the output .npy (float32)")
  .option("--name <source>", "model source (model.name), e.g. KerasFLModel, PytorchFLModel, OnnxModel, TfjsModel")
  .option("--backend <backend>", "TensorFlow.js backend: auto, tensorflow, wasm or cpu (cpu for bit-for-bit reproducible results)", backendChoice, "auto")
  .option("--batch-size <n>", "rows per forward pass", positiveInt, 32)
  .addHelpText("after", `\n${MODEL_SPEC_HELP}`)
  .action(async (spec: string, options) => { process.exitCode = await runModelPredict(spec, options); });

modelCommand.command("train")
  .description("train locally, without a federation, as a party would; print each epoch's metrics and the test split's; export the model")
  .argument("<spec>", "model file, spec file, model section or config file (see cohort model --help); needs its training keys")
  .requiredOption("--data <file>", "IBM FL's .npz (x_train, y_train, x_test, y_test; integer images scaled by 1/255) or a .csv (label in the last column)")
  .option("--epochs <n>", "epochs", positiveInt, 1)
  .option("--batch-size <n>", "batch size", positiveInt, 32)
  .option("--no-shuffle", "feed batches in file order (with a model without dropout: the same weights every run)")
  .option("--lr <rate>", "learning rate, over the spec's", positiveNumber)
  .option("--x-scale <factor>", "multiply the inputs by this (default: 1/255 for integer npz images, else 1)", positiveNumber)
  .option("--out <dir>", "write the trained model there: model.json + weights.bin, model.onnx, and model.h5 / model.pt by source")
  .option("--name <source>", "model source (model.name), e.g. KerasFLModel, PytorchFLModel, OnnxModel, TfjsModel")
  .option("--backend <backend>", "TensorFlow.js backend: auto, tensorflow, wasm or cpu", backendChoice, "auto")
  .addHelpText("after", `\n${MODEL_SPEC_HELP}`)
  .action(async (spec: string, options) => { process.exitCode = await runModelTrain(spec, options); });

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed the problem (and the help) already.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_INPUT;
  } else {
    // The message says what and where (services have also logged it as a `fatal` event); the
    // stack only at LOG_LEVEL=debug, for errors that are not the user's to fix.
    const code = exitCodeFor(error);
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`cohort: ${message}\n`);
    if (code !== EXIT_INPUT && error instanceof Error && process.env.LOG_LEVEL === "debug") process.stderr.write(`${error.stack}\n`);
    process.exitCode = code;
  }
}
