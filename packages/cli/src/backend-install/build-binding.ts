/**
 * Builds @tensorflow/tfjs-node's (or -gpu's) native binding against a TensorFlow C library that
 * is already on the machine. Steps: install the npm package without its install script (which
 * would download libtensorflow 2.9.1), point its deps/ at the library, compile with node-gyp,
 * and load the result in a child process to prove it links and to read TF_Version(). The package
 * lands in the project's node_modules through npm, so `import("@tensorflow/tfjs-node")` resolves
 * there and shares the project's single tfjs-core.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { TensorflowLibrary } from "./tensorflow-library.js";
import type { Toolchain } from "./toolchain.js";

export type NativePackage = "@tensorflow/tfjs-node" | "@tensorflow/tfjs-node-gpu";

/** Written into the package's deps/: what the binding was built against (backend.ts logs it). */
export const BUILD_RECORD = "cohort-build.json";

/** tfjs-node's node-pre-gyp layout: lib/napi-v{N}/tfjs_binding.node, N the highest it lists that Node supports. */
const NAPI_BUILD_VERSION = 8;

export interface BuildResult {
  packageDir: string;
  binding: string;
  /** TF_Version() of the library the binding loaded. */
  tensorflowVersion: string;
}

export class BindingBuildError extends Error {
  readonly code = "BINDING_BUILD";
}

export interface BuildOptions {
  pkg: NativePackage;
  library: TensorflowLibrary;
  toolchain: Toolchain;
  log: (line: string) => void;
}

/** The folder whose node_modules holds the tfjs-core Cohort runs on (the project or install root). */
export function projectRoot(): string {
  const require = createRequire(import.meta.url);
  const corePackage = require.resolve("@tensorflow/tfjs-core/package.json");
  return corePackage.slice(0, corePackage.lastIndexOf(`${path.sep}node_modules${path.sep}`));
}

export function buildBinding({ pkg, library, toolchain, log }: BuildOptions): BuildResult {
  const root = projectRoot();
  const packageDir = ensurePackage(root, pkg, log);
  stageLibrary(packageDir, library);
  log(`compiling ${pkg}'s binding with node-gyp against ${library.cLibrary} (about 10-30 s)`);
  const modulePath = path.join(packageDir, "lib", `napi-v${NAPI_BUILD_VERSION}`);
  const args = [
    toolchain.nodeGyp, "rebuild",
    `--napi_build_version=${NAPI_BUILD_VERSION}`, "--module_name=tfjs_binding", `--module_path=${modulePath}`,
    `--python=${toolchain.python}`, "--jobs=max",
    ...(toolchain.nodedir ? [`--nodedir=${toolchain.nodedir}`] : []),
  ];
  const built = spawnSync(process.execPath, args, { cwd: packageDir, encoding: "utf8", env: { ...process.env, CXX: toolchain.cxx } });
  if (built.status !== 0) {
    const tail = `${built.stdout}\n${built.stderr}`.trim().split("\n").slice(-15).join("\n");
    throw new BindingBuildError(`node-gyp failed to build ${pkg}'s binding (exit ${built.status}):\n${tail}`);
  }
  const binding = path.join(modulePath, "tfjs_binding.node");
  const tensorflowVersion = loadBinding(binding);
  writeFileSync(
    path.join(packageDir, "deps", BUILD_RECORD),
    `${JSON.stringify({ library: library.cLibrary, kind: library.kind, tensorflowVersion, builtAt: new Date().toISOString() }, null, 2)}\n`,
  );
  return { packageDir, binding, tensorflowVersion };
}

/** Installs the package (same version as the project's tfjs-core, scripts off) unless it is there already. */
function ensurePackage(root: string, pkg: NativePackage, log: (line: string) => void): string {
  const packageDir = path.join(root, "node_modules", ...pkg.split("/"));
  const coreVersion = readVersion(path.join(root, "node_modules", "@tensorflow", "tfjs-core"));
  if (coreVersion === undefined) throw new BindingBuildError(`@tensorflow/tfjs-core is not installed under ${root}/node_modules`);
  if (readVersion(packageDir) === coreVersion) {
    log(`${pkg}@${coreVersion} is installed in ${packageDir}`);
    return packageDir;
  }
  log(`installing ${pkg}@${coreVersion} with npm (--ignore-scripts: its script would download libtensorflow 2.9.1)`);
  const npm = spawnSync(
    "npm",
    ["install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", `${pkg}@${coreVersion}`],
    { cwd: root, encoding: "utf8" },
  );
  if (npm.error) throw new BindingBuildError(`could not run npm to install ${pkg}: ${npm.error.message}`);
  if (npm.status !== 0 || readVersion(packageDir) !== coreVersion) {
    const tail = npm.stderr.trim().split("\n").slice(-8).join("\n");
    throw new BindingBuildError(`npm install ${pkg}@${coreVersion} failed in ${root} (exit ${npm.status}):\n${tail}`);
  }
  return packageDir;
}

function readVersion(packageDir: string): string | undefined {
  const file = path.join(packageDir, "package.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version?: string }).version : undefined;
}

/**
 * binding.gyp compiles against deps/include and links -ltensorflow -ltensorflow_framework from
 * deps/lib with rpath $ORIGIN/../../deps/lib; links there make the library appear under the
 * names it wants. Both the link-time names and the sonames (libtensorflow_cc.so.2 for a pip
 * library) are needed, so the dynamic loader finds them through that rpath at run time.
 */
function stageLibrary(packageDir: string, library: TensorflowLibrary): void {
  const deps = path.join(packageDir, "deps");
  rmSync(deps, { recursive: true, force: true });
  rmSync(path.join(packageDir, "build"), { recursive: true, force: true });
  mkdirSync(path.join(deps, "lib"), { recursive: true });
  symlinkSync(library.includeDir, path.join(deps, "include"));
  const links: Record<string, string> = {
    "libtensorflow.so": library.cLibrary,
    [path.basename(library.cLibrary)]: library.cLibrary,
    "libtensorflow_framework.so": library.frameworkLibrary,
    "libtensorflow_framework.so.2": library.frameworkLibrary,
  };
  for (const [name, target] of Object.entries(links)) symlinkSync(target, path.join(deps, "lib", name));
}

/** Loads the binding in a child process (a failed dlopen must not take this one down) and returns TF_Version(). */
function loadBinding(binding: string): string {
  const probe = spawnSync(process.execPath, ["-e", `process.stdout.write(require(${JSON.stringify(binding)}).TF_Version)`], { encoding: "utf8" });
  if (probe.status !== 0 || !/^\d+\.\d+/.test(probe.stdout)) {
    throw new BindingBuildError(`the built binding ${binding} does not load: ${probe.stderr.trim().split("\n").slice(0, 3).join(" ")}`);
  }
  return probe.stdout.trim();
}
