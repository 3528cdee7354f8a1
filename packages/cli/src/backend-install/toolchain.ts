/**
 * What building tfjs-node's binding with node-gyp needs besides the TensorFlow library: a C++
 * compiler, make, Python 3 (node-gyp's gyp is Python), Node's own headers (node-gyp would
 * download them, which fails offline) and node-gyp itself (npm ships one). Checked up front so
 * that a missing piece is named with how to get it, rather than surfacing as a compiler error.
 */
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Toolchain {
  /** The C++ compiler node-gyp's Makefile will call (CXX, else c++ or g++). */
  cxx: string;
  make: string;
  python: string;
  /** node-gyp's --nodedir: a folder whose include/node holds node_api.h; undefined when node-gyp's cache has them. */
  nodedir?: string;
  /** The node-gyp script to run with this Node. */
  nodeGyp: string;
}

export class ToolchainError extends Error {
  readonly code = "TOOLCHAIN";
}

/** Locates every tool; throws one error listing each missing one with its remedy. */
export function checkToolchain(env: NodeJS.ProcessEnv = process.env): Toolchain {
  const missing: string[] = [];
  const cxx = firstOnPath([env.CXX, "c++", "g++", "clang++"], env);
  if (!cxx) missing.push("a C++ compiler (set CXX, or install g++: apt-get install g++ / build-essential)");
  const make = firstOnPath(["make", "gmake"], env);
  if (!make) missing.push("make (apt-get install make)");
  const python = firstOnPath([env.PYTHON, "python3", "python"], env);
  if (!python || !isPython3(python)) missing.push("Python 3 for node-gyp (set PYTHON, or apt-get install python3)");
  const headers = nodeHeaders(env);
  if (headers === null) {
    missing.push(
      `Node ${process.version}'s headers (node_api.h): none next to ${process.execPath} nor in node-gyp's cache; ` +
        `install your distribution's Node development package, or unpack node-${process.version}-headers.tar.gz and set COHORT_NODEDIR to it`,
    );
  }
  const nodeGyp = nodeGypScript(env);
  if (!nodeGyp) missing.push("node-gyp (npm ships one; or npm install -g node-gyp, or set COHORT_NODE_GYP to its bin/node-gyp.js)");
  if (missing.length > 0) throw new ToolchainError(`cannot build tfjs-node's binding; missing: ${missing.join("; ")}`);
  return { cxx: cxx!, make: make!, python: python!, nodedir: headers ?? undefined, nodeGyp: nodeGyp! };
}

function firstOnPath(names: (string | undefined)[], env: NodeJS.ProcessEnv): string | undefined {
  for (const name of names) {
    if (!name) continue;
    const found = which(name.split(" ")[0], env);
    if (found) return found;
  }
  return undefined;
}

function which(name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (name.includes("/")) return existsSync(name) ? name : undefined;
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function isPython3(python: string): boolean {
  const result = spawnSync(python, ["-c", "import sys; print(sys.version_info[0])"], { encoding: "utf8" });
  return result.status === 0 && result.stdout.trim() === "3";
}

/**
 * A --nodedir for node-gyp (undefined: node-gyp's cache already has this version's headers),
 * or null when neither is there. COHORT_NODEDIR wins; then the prefix Node was installed under
 * (Debian's nodejs and the official tarballs put include/node beside bin/node).
 */
function nodeHeaders(env: NodeJS.ProcessEnv): string | undefined | null {
  const has = (dir: string) => existsSync(path.join(dir, "include", "node", "node_api.h"));
  if (env.COHORT_NODEDIR) return has(env.COHORT_NODEDIR) ? env.COHORT_NODEDIR : null;
  const prefix = path.dirname(path.dirname(realpathSync(process.execPath)));
  if (has(prefix)) return prefix;
  const version = process.version.slice(1);
  const caches = [env.npm_config_devdir, path.join(os.homedir(), ".cache", "node-gyp"), path.join(os.homedir(), ".node-gyp")];
  return caches.some((dir) => dir && has(path.join(dir, version))) ? undefined : null;
}

/** COHORT_NODE_GYP, else the node-gyp npm bundles (beside npm's own cli), else one on PATH. */
function nodeGypScript(env: NodeJS.ProcessEnv): string | undefined {
  if (env.COHORT_NODE_GYP) return existsSync(env.COHORT_NODE_GYP) ? env.COHORT_NODE_GYP : undefined;
  const npm = which("npm", env);
  if (npm) {
    const bundled = path.join(path.dirname(path.dirname(realpathSync(npm))), "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(bundled)) return bundled;
  }
  const onPath = which("node-gyp", env);
  return onPath ? realpathSync(onPath) : undefined;
}
