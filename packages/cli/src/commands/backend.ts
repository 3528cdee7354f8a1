import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { buildBinding, type NativePackage } from "../backend-install/build-binding.js";
import { checkTensorflowVersion, findTensorflowLibrary, TensorflowLibraryError, type TensorflowLibrary } from "../backend-install/tensorflow-library.js";
import { checkToolchain } from "../backend-install/toolchain.js";

export interface BackendInstallOptions {
  /** A TensorFlow install to build against (pip package, site-packages, venv, libtensorflow archive). */
  from?: string;
  /** Build @tensorflow/tfjs-node-gpu (default: when an NVIDIA driver is loaded). */
  gpu?: boolean;
  print?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Where TensorFlow's own instructions put libtensorflow, and the prefix of the official TensorFlow images' pip install. */
const DEFAULT_PREFIXES = ["/usr/local", "/usr"];

/**
 * `cohort backend install tensorflow [--from DIR]`: builds tfjs-node's binding against the
 * TensorFlow C library found in DIR (else Python's tensorflow package, else /usr/local) and
 * checks that it loads; `backend: auto` then picks it.
 */
export async function runBackendInstall(options: BackendInstallOptions = {}): Promise<number> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const env = options.env ?? process.env;
  const library = options.from ? findTensorflowLibrary(options.from) : locateDefault(env, print);
  checkTensorflowVersion(library);
  print(`TensorFlow ${library.version ?? "(version not recorded)"} C library (${library.kind} layout): ${library.cLibrary}`);
  const toolchain = checkToolchain(env);
  print(`toolchain: ${toolchain.cxx}, ${toolchain.make}, ${toolchain.python}, node-gyp ${toolchain.nodeGyp}, Node headers ${toolchain.nodedir ?? "(node-gyp cache)"}`);
  const gpu = options.gpu ?? existsSync("/proc/driver/nvidia/version");
  const pkg: NativePackage = gpu ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
  const started = Date.now();
  const result = buildBinding({ pkg, library, toolchain, log: print });
  print(`built ${result.binding} in ${((Date.now() - started) / 1000).toFixed(0)} s; it loads TensorFlow ${result.tensorflowVersion}`);
  print(`the "tensorflow" backend is ready: backend auto (the default) picks ${pkg}; keep ${library.root} in place, the binding links to it`);
  return 0;
}

/** No --from: Python's tensorflow package (found without importing it), then libtensorflow under the usual prefixes. */
function locateDefault(env: NodeJS.ProcessEnv, print: (line: string) => void): TensorflowLibrary {
  const looked: string[] = [];
  for (const python of [env.COHORT_PYTHON, "python3", "python"].filter((p): p is string => Boolean(p))) {
    const probe = spawnSync(python, ["-c", "import importlib.util as u; s = u.find_spec('tensorflow'); print(s.submodule_search_locations[0] if s else '')"], { encoding: "utf8", env });
    const dir = probe.status === 0 ? probe.stdout.trim() : "";
    looked.push(`${python}: ${probe.error ? "not found" : dir || "no tensorflow package"}`);
    if (!dir) continue;
    print(`using ${python}'s tensorflow package: ${dir}`);
    return findTensorflowLibrary(dir);
  }
  for (const prefix of DEFAULT_PREFIXES) {
    try {
      return findTensorflowLibrary(prefix);
    } catch (error) {
      if (!(error instanceof TensorflowLibraryError)) throw error;
      looked.push(`${prefix}: none`);
    }
  }
  throw new TensorflowLibraryError(
    `no TensorFlow found (${looked.join("; ")}); pass --from DIR: a pip TensorFlow package (…/site-packages/tensorflow), a venv, or an extracted libtensorflow archive`,
  );
}
