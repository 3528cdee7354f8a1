import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, readRoundLines } from "./helpers/federation.js";
import { writeTwoPartyFederation } from "./helpers/processes.js";

// The images that deploy/build-images.sh built (against deploy/make-base-image.sh's local base),
// run for one federated round over loopback. Containers cannot be started on the CI machine (crun
// is refused setrlimit), so each image's file system is exported (podman create + podman export)
// and its entrypoint runs under chroot, as the image's user, with the image's environment and
// working directory, on a read-only root with only the container's writable places mounted:
// /tmp (tmpfs), /etc/cohort (configs) and, for the aggregator, its /var/lib/cohort volume.
//
// COHORT_CONTAINER_TEST=1: required (missing prerequisites fail the test; .ci/run sets it after
// building the images); =0: skipped; unset: runs where root, podman and the images are present.
// COHORT_IMAGE_TAG picks the images' tag (default "local", build-images.sh's default).
const run = promisify(execFile);
const MODE = process.env.COHORT_CONTAINER_TEST;
const TAG = process.env.COHORT_IMAGE_TAG ?? "local";
const IMAGES = { aggregator: `localhost/cohort-aggregator:${TAG}`, party: `localhost/cohort-party:${TAG}` } as const;
type Role = keyof typeof IMAGES;

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;

function skipReason(): string | undefined {
  if (MODE === "0") return "COHORT_CONTAINER_TEST=0";
  if (process.platform !== "linux") return "needs Linux (chroot, mount)";
  if (process.getuid?.() !== 0) return "needs root (chroot, mount, podman's root storage)";
  for (const tool of ["podman", "chroot", "mount", "umount", "tar"]) {
    if (!has(tool)) return `${tool} not found (apt-get install -y podman debootstrap; .ci/run installs them)`;
  }
  for (const image of Object.values(IMAGES)) {
    if (spawnSync("podman", ["image", "exists", image], { stdio: "ignore" }).status !== 0) {
      const debootstrap = has("debootstrap") ? "" : " (debootstrap not found: apt-get install -y debootstrap)";
      return `image ${image} not built: run deploy/make-base-image.sh${debootstrap} && deploy/build-images.sh`;
    }
  }
  return undefined;
}

const reason = skipReason();
if (reason && MODE !== "1") console.warn(`test/container-images.test.ts skipped: ${reason}`);

interface ImageConfig {
  User: string;
  Env: string[];
  Entrypoint: string[];
  WorkingDir: string;
  Healthcheck?: { Test: string[] };
}

/** A root file system exported from an image, mounted read-only, with the container's writable places. */
class ExportedRoot {
  readonly mounts: string[] = [];
  private constructor(readonly image: string, readonly dir: string, readonly config: ImageConfig) {}

  static async create(image: string, base: string): Promise<ExportedRoot> {
    const inspected = JSON.parse((await run("podman", ["image", "inspect", image])).stdout)[0];
    const config: ImageConfig = { ...inspected.Config, Healthcheck: inspected.Healthcheck };
    const dir = await mkdtemp(join(base, "root-"));
    await chmod(dir, 0o755); // mkdtemp's 0700 would keep the image's user out of its own "/"
    // --no-healthcheck: podman would otherwise try to set up a systemd timer for it.
    const id = (await run("podman", ["create", "--no-healthcheck", image])).stdout.trim();
    try {
      await run("bash", ["-c", 'set -o pipefail; podman export "$1" | tar -x --numeric-owner -C "$2"', "export", id, dir], { maxBuffer: 1 << 20 });
    } finally {
      await run("podman", ["rm", "--force", id]);
    }
    return new ExportedRoot(image, dir, config);
  }

  private async mount(args: string[], target: string): Promise<void> {
    await run("mount", [...args, target]);
    this.mounts.push(target);
  }

  /** Read-only root; proc, a tmpfs /tmp and the given host directories bound in (writable ones by their own permissions). */
  async prepare(binds: Record<string, string>): Promise<void> {
    await this.mount(["--bind", this.dir], this.dir);
    await run("mount", ["-o", "remount,bind,ro", this.dir]);
    await this.mount(["-t", "proc", "-o", "nosuid,nodev,noexec", "proc"], join(this.dir, "proc"));
    await this.mount(["-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "tmpfs"], join(this.dir, "tmp"));
    for (const [inside, host] of Object.entries(binds)) await this.mount(["--bind", host], join(this.dir, inside));
  }

  /** Runs `command` in the root as the image's user, with only the image's environment (plus `env`), from its working directory. */
  spawn(command: string[], env: Record<string, string> = {}): ChildProcess {
    const vars = [...this.config.Env, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
    return spawn("chroot", [`--userspec=${this.config.User}`, this.dir, "/usr/bin/env", "-i", `--chdir=${this.config.WorkingDir || "/"}`, ...vars, ...command], { stdio: ["ignore", "pipe", "pipe"] });
  }

  /** Unmounts everything; removes the files only once nothing is mounted under the root any more. */
  async dispose(): Promise<void> {
    for (const target of this.mounts.reverse()) {
      await run("umount", [target]).catch(() => run("umount", ["-l", target]));
    }
    const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
    const still = mountinfo.split("\n").map((l) => l.split(" ")[4]).filter((p) => p && (p === this.dir || p.startsWith(`${this.dir}/`)));
    if (still.length > 0) throw new Error(`still mounted, not removing ${this.dir}: ${still.join(", ")}`);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A process under chroot; its output is kept for the failure message. */
class Contained {
  output = "";
  readonly exited: Promise<number | null>;
  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout!.on("data", (d) => (this.output += d));
    child.stderr!.on("data", (d) => (this.output += d));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => resolve(code));
      child.once("error", (error) => { this.output += `${error}\n`; resolve(-1); });
    });
  }
  tail(): string {
    return `--- ${this.name} (last lines)\n${this.output.trim().split("\n").slice(-15).join("\n")}`;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s: ${what()}`)), ms).unref())]);
}

const suite = reason && MODE !== "1" ? describe.skip : describe;
const title = reason ? `${MODE === "1" ? "cannot run" : "skipped"}: ${reason}` : `${IMAGES.aggregator}, ${IMAGES.party}`;
suite(`container images (${title})`, () => {
  if (reason) {
    it("has its prerequisites (COHORT_CONTAINER_TEST=1)", () => {
      throw new Error(reason);
    });
    return;
  }

  const roots: Partial<Record<Role, ExportedRoot>> = {};
  const processes: Contained[] = [];
  let base: string;
  let output: string;
  const healthcheck = { code: -1 as number | null, attempts: 0 };
  let aggregatorUid: string | undefined;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    let t = Date.now();
    base = await mkdtemp(join(tmpdir(), "cohort-images-"));
    for (const role of ["aggregator", "party"] as const) roots[role] = await ExportedRoot.create(IMAGES[role], base);
    timings.export_s = (Date.now() - t) / 1000;

    // The federation of the end-to-end tests (p0, p1 on MNIST shards), with the paths of the
    // images: the example model from /app/examples, also as the aggregator's initial model (as
    // deploy/config/aggregator.yml has it), configs at /etc/cohort, the run in the volume.
    const model = "/app/examples/mnist-tfjs/model.mjs";
    // Its directory is removed at the end of the file by the helper (test/helpers/temp-dirs.ts).
    const federation = await writeTwoPartyFederation({ rounds: 1, maxExamples: 400, model });
    await appendFile(join(federation.dir, "aggregator.yml"), `\nmodel: {name: TfjsModuleModel, spec: {model_definition: ${model}}}\n`);
    await chmod(federation.dir, 0o755);
    for (const f of await readdir(federation.dir)) await chmod(join(federation.dir, f), 0o644);
    output = join(base, "volume");
    await mkdir(output);
    await chown(output, 1000, 1000);
    await roots.aggregator!.prepare({ "etc/cohort": federation.dir, "var/lib/cohort": output });
    await roots.party!.prepare({ "etc/cohort": federation.dir });

    t = Date.now();
    const metricsPort = await freePort();
    const entry = (role: Role) => roots[role]!.config.Entrypoint;
    const aggregator = new Contained("aggregator", roots.aggregator!.spawn([...entry("aggregator"), "aggregator", "--config", "/etc/cohort/aggregator.yml", "--output-dir", "/var/lib/cohort/run", "--metrics-port", String(metricsPort)], { LOG_LEVEL: "info" }));
    processes.push(aggregator);
    for (const i of [0, 1]) processes.push(new Contained(`party p${i}`, roots.party!.spawn([...entry("party"), "party", "--config", `/etc/cohort/p${i}.yml`], { LOG_LEVEL: "info" })));

    // The image's own HEALTHCHECK command, run in the aggregator's root until healthy.
    const check = roots.aggregator!.config.Healthcheck!.Test.slice(1);
    while (healthcheck.code !== 0 && healthcheck.attempts < 60 && aggregator.child.exitCode === null) {
      healthcheck.attempts++;
      const probe = roots.aggregator!.spawn(check, { COHORT_METRICS_PORT: String(metricsPort) });
      healthcheck.code = await new Promise((resolve) => probe.once("exit", resolve));
      if (healthcheck.code !== 0) await new Promise((r) => setTimeout(r, 500));
    }
    aggregatorUid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${aggregator.child.pid}/status`, "utf8").catch(() => ""))?.[1];

    const codes = await withTimeout(Promise.all(processes.map((p) => p.exited)), 240_000, () => processes.map((p) => p.tail()).join("\n"));
    timings.round_s = (Date.now() - t) / 1000;
    const failed = processes.filter((_, i) => codes[i] !== 0);
    if (failed.length > 0) throw new Error(`exit codes ${codes.join(", ")}\n${failed.map((p) => p.tail()).join("\n")}`);
    console.info(`container images: exported both file systems in ${timings.export_s} s; one round under chroot in ${timings.round_s} s`);
  }, 400_000);

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await Promise.all(processes.map((p) => p.exited));
    const errors: unknown[] = [];
    for (const root of Object.values(roots)) await root.dispose().catch((e) => errors.push(e));
    if (errors.length === 0 && base) await rm(base, { recursive: true, force: true });
    if (errors.length > 0) throw errors[0];
  }, 60_000);

  it("the images run as uid 1000 and carry the /healthz HEALTHCHECK", () => {
    for (const root of Object.values(roots)) {
      expect(root.config.User, root.image).toBe("1000:1000");
      expect(root.config.Healthcheck?.Test, root.image).toEqual(["CMD", "node", "/app/deploy/docker/healthcheck.mjs", "/healthz"]);
      expect(root.config.Entrypoint, root.image).toEqual(["node", "/app/packages/cli/dist/main.js"]);
    }
    expect(aggregatorUid).toBe("1000");
  });

  it("the aggregator's HEALTHCHECK command reports it healthy", () => {
    expect(healthcheck.code, `after ${healthcheck.attempts} attempts`).toBe(0);
  });

  it("an aggregator and two parties from the images complete a round over loopback", async () => {
    const dir = join(output, "run");
    const summary = JSON.parse(await readFile(join(dir, "summary.json"), "utf8"));
    expect(summary.rounds_completed).toBe(1);
    expect(summary.parties).toEqual(["p0", "p1"]);
    const lines = await readRoundLines(dir);
    expect(lines).toHaveLength(1);
    expect(lines[0].eval.accuracy).toBeGreaterThan(0.1);
    // The exports: model.onnx is written only after onnxruntime-node ran it, so the image's
    // native onnxruntime (the one platform kept) loads.
    for (const file of ["model.json", "weights.bin", "model.onnx"]) expect((await stat(join(dir, "model", file))).size, file).toBeGreaterThan(0);
    // Everything the aggregator wrote belongs to uid 1000.
    expect((await stat(join(dir, "summary.json"))).uid).toBe(1000);
  });
});
