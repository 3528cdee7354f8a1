/**
 * Picks the fastest TensorFlow.js backend this machine can run, once per process:
 * tfjs-node-gpu (CUDA), tfjs-node (libtensorflow), wasm (XNNPACK, SIMD), then pure-JS cpu.
 * The native packages are optional dependencies (their install downloads libtensorflow and is
 * skipped where that fails), so they are loaded with a dynamic import whose failure just means
 * "not installed".
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import "@tensorflow/tfjs-backend-cpu";
import * as wasm from "@tensorflow/tfjs-backend-wasm";
import { assertSingleTfjsCore, tf } from "./tfjs.js";
import { registerNativeTrainingKernels } from "./native-kernels/register.js";
import { registerWasmTrainingKernels } from "./wasm-kernels/register.js";

export type BackendPreference = "tensorflow" | "wasm" | "cpu" | "auto";

export interface SelectedBackend {
  /** The tfjs backend name now active: "tensorflow", "wasm" or "cpu". */
  name: string;
  /** One human line for the start-up log: which package, which variant, why others were skipped. */
  detail: string;
}

const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

let selection: Promise<SelectedBackend> | undefined;

/**
 * Activates a backend and resolves to what was chosen. Idempotent: later calls return the
 * first call's result whatever they ask for, because tfjs holds one global engine and
 * switching backends under live models would strand their weights in the old backend.
 */
export function selectBackend(preferred: BackendPreference = "auto"): Promise<SelectedBackend> {
  selection ??= choose(preferred);
  return selection;
}

async function choose(preferred: BackendPreference): Promise<SelectedBackend> {
  assertSingleTfjsCore();
  // tfjs prints a multi-line "install tfjs-node" banner to stderr in Node unless PROD is set; it
  // would break the one-JSON-event-per-line logs, and the backend choice is logged anyway.
  tf.env().set("PROD", true);
  // TensorFlow's C library logs INFO lines (CPU features, ...) to stderr on load; keep its
  // warnings and errors (one oneDNN line is written before this setting is read). A value the
  // user set wins.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "1";
  const skipped: string[] = [];
  if (preferred === "auto" || preferred === "tensorflow") {
    for (const pkg of NATIVE_PACKAGES) {
      const why = await tryNative(pkg);
      if (why === undefined) return { name: tf.getBackend(), detail: withSkipped(`${pkg} (${nativeLibrary()})`, skipped) };
      skipped.push(`${pkg}: ${why}`);
    }
  }
  if (preferred !== "cpu") {
    const why = await tryWasm();
    if (why === undefined) {
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
      const threads = wasm.getThreadsCount();
      const variant = `${simd ? "SIMD" : "no SIMD"}, ${threads} thread${threads === 1 ? "" : "s"}`;
      return { name: "wasm", detail: withSkipped(`@tensorflow/tfjs-backend-wasm (${variant})`, skipped) };
    }
    skipped.push(`wasm: ${why}`);
  }
  if (!(await tf.setBackend("cpu"))) throw new Error(`no TensorFlow.js backend could start (${skipped.join("; ")})`);
  await tf.ready();
  return { name: "cpu", detail: withSkipped("@tensorflow/tfjs-backend-cpu (pure JavaScript, slow)", skipped) };
}

/**
 * The native package whose binding is built (by its own install or by `cohort backend install
 * tensorflow`), without loading it; undefined when neither has one. For tests and diagnostics.
 */
export function installedNativeBinding(): { pkg: string; binding: string } | undefined {
  const require = createRequire(import.meta.url);
  for (const pkg of NATIVE_PACKAGES) {
    let dir: string;
    try {
      dir = path.dirname(require.resolve(`${pkg}/package.json`));
    } catch {
      continue;
    }
    // node-pre-gyp's layout (package.json "binary"): lib/napi-v{N}/tfjs_binding.node.
    const libDir = path.join(dir, "lib");
    const found = existsSync(libDir) ? readdirSync(libDir).map((v) => path.join(libDir, v, "tfjs_binding.node")).find((f) => existsSync(f)) : undefined;
    if (found) return { pkg, binding: found };
  }
  return undefined;
}

function withSkipped(detail: string, skipped: string[]): string {
  return skipped.length === 0 ? detail : `${detail}; skipped ${skipped.join("; ")}`;
}

/** Resolves to undefined on success, else to the reason the package could not be used. */
async function tryNative(pkg: string): Promise<string | undefined> {
  try {
    // The specifier is a variable so TypeScript does not require the optional package's types.
    await import(pkg);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return "not installed";
    // npm installs both optional packages where scripts are off; only one gets a binding built.
    if (/tfjs_binding\.node\) can not be found/.test(String(err))) return "installed without its native binding (cohort backend install tensorflow builds one)";
    return firstLine(err);
  }
  // Importing registers the "tensorflow" backend with a high priority; make it explicit.
  registerNativeTrainingKernels();
  if (!(await tf.setBackend("tensorflow"))) return "installed but failed to initialise";
  await tf.ready();
  return undefined;
}

/** "TensorFlow 2.21.0 C library": the version the binding loaded (TF_Version), whoever built it. */
function nativeLibrary(): string {
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string; isUsingGpuDevice?: () => boolean } }).binding;
  const version = binding?.TF_Version ?? "unknown version";
  const gpu = binding?.isUsingGpuDevice?.() ? ", GPU" : "";
  return `TensorFlow ${version} C library${gpu}`;
}

async function tryWasm(): Promise<string | undefined> {
  // The .wasm binaries sit next to the package's entry point; an absolute folder makes the
  // backend load them from any working directory (its default is relative to the bundle URL).
  const require = createRequire(import.meta.url);
  const distDir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  wasm.setWasmPaths(distDir + path.sep);
  // Threads stay off: tfjs-backend-wasm 4.22 starts its pthread workers from blob: URLs, which
  // Node's worker_threads refuses (tfjs issue #3830); its flag already reports false in Node.
  registerWasmTrainingKernels();
  try {
    if (!(await tf.setBackend("wasm"))) return "failed to initialise";
    await tf.ready();
  } catch (err) {
    return firstLine(err);
  }
  return undefined;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0];
}
