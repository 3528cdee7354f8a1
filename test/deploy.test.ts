import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { loadAll } from "js-yaml";
import { describe, expect, it, vi } from "vitest";
import { parseAggregatorConfig, parsePartyConfig } from "@cohort/config";
import { OPS_PATHS } from "@cohort/telemetry";

// Static checks of deploy/: every YAML parses, and the essentials that make the containers
// work together hold (probe paths and ports match the ops server and the configs, non-root,
// read-only root file system). Building the images needs podman or docker and is not done here.
const DEPLOY = join(process.cwd(), "deploy");
const METRICS_PORT = 9464;

function files(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "secrets") return [];
    return statSync(path).isDirectory() ? files(path, pattern) : pattern.test(name) ? [path] : [];
  });
}

type Doc = Record<string, any>;
const yamlDocs = (file: string) => loadAll(readFileSync(file, "utf8")).filter((d) => d !== null && d !== undefined).map(mergeKeys) as Doc[];

/** Resolves YAML merge keys (`<<: *anchor`), which compose files use and js-yaml 5 leaves as a key. */
function mergeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(mergeKeys);
  if (value === null || typeof value !== "object") return value;
  const { "<<": base, ...own } = value as Doc;
  const merged: Doc = {};
  for (const source of base === undefined ? [] : Array.isArray(base) ? base : [base]) Object.assign(merged, mergeKeys(source));
  for (const [key, inner] of Object.entries(own)) merged[key] = mergeKeys(inner);
  return merged;
}
const k8sDocs = () => files(join(DEPLOY, "k8s"), /\.ya?ml$/).flatMap((f) => yamlDocs(f).map((doc) => ({ file: relative(DEPLOY, f), doc })));

describe("deploy/", () => {
  it("every YAML file parses", () => {
    const all = files(DEPLOY, /\.ya?ml$/);
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const file of all) expect(() => yamlDocs(file), file).not.toThrow();
  });

  it("the configs are valid Cohort configs with the ops server on all interfaces at the probes' port", () => {
    vi.stubEnv("PARTY0_TOKEN", "t".repeat(16)); vi.stubEnv("PARTY1_TOKEN", "t".repeat(16)); vi.stubEnv("PARTY2_TOKEN", "t".repeat(16)); vi.stubEnv("COHORT_TOKEN", "t".repeat(16));
    // tls_config names files that exist only inside the containers (/run/secrets): check the rest.
    const raw = (name: string) => {
      const doc = yamlDocs(join(DEPLOY, "config", name))[0];
      if (doc.connection) { expect(doc.connection.info.tls_config.enable).toBe(true); delete doc.connection.info.tls_config; }
      if (doc.aggregator) { expect(doc.aggregator.tls_config).toMatchObject({ enable: true, cert: expect.any(String), key: expect.any(String) }); delete doc.aggregator.tls_config; }
      return doc;
    };
    const aggregator = parseAggregatorConfig(raw("aggregator.yml"), "aggregator.yml", "/etc/cohort");
    expect(aggregator.metrics).toEqual({ host: "0.0.0.0", port: METRICS_PORT });
    expect(aggregator.numParties).toBe(3);
    for (const i of [0, 1, 2]) {
      const party = parsePartyConfig(raw(`party${i}.yml`), `party${i}.yml`, "/etc/cohort");
      expect(party.metrics).toEqual({ host: "0.0.0.0", port: METRICS_PORT });
      expect(party.aggregator.host).toBe("aggregator");
      expect(party.name).toBe(`party${i}`);
    }
    vi.unstubAllEnvs();
  });

  it("Dockerfiles: multi-stage, base image as a build argument, non-root, HEALTHCHECK on /healthz", () => {
    const dockerfiles = files(join(DEPLOY, "docker"), /\.Dockerfile$/);
    expect(dockerfiles.map((f) => relative(DEPLOY, f)).sort()).toEqual(["docker/aggregator.Dockerfile", "docker/party-gpu.Dockerfile", "docker/party.Dockerfile"]);
    for (const file of dockerfiles) {
      const text = readFileSync(file, "utf8");
      expect(text.match(/^FROM /gm)?.length, file).toBeGreaterThanOrEqual(2);
      expect(text, file).toMatch(/^ARG (BASE|TF_GPU)_IMAGE=/m);
      expect(text, file).toMatch(/^USER 1000:1000$/m);
      expect(text, file).toMatch(/^HEALTHCHECK .*healthcheck\.mjs", "\/healthz"\]$/m);
    }
    // A current TensorFlow GPU image, its C library under tfjs-node-gpu's binding (not libtensorflow 2.9.1 on CUDA 11.2).
    const gpu = readFileSync(join(DEPLOY, "docker/party-gpu.Dockerfile"), "utf8");
    expect(gpu).toMatch(/^ARG TF_GPU_IMAGE=tensorflow\/tensorflow:2\.(2\d|[3-9]\d)\.\d+-gpu$/m);
    expect(gpu).toMatch(/^RUN node packages\/cli\/dist\/main\.js backend install tensorflow --gpu/m);
    expect(gpu).not.toMatch(/cuda:11|tfjs-node-gpu@/);
  });

  it("compose: aggregator + 3 parties, hardened, mTLS certificates as secrets, health checks", () => {
    const compose = yamlDocs(join(DEPLOY, "compose.yaml"))[0];
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["aggregator", "party0", "party1", "party2"]));
    for (const [name, service] of Object.entries<Doc>(compose.services)) {
      expect(service.user, name).toBe("1000:1000");
      expect(service.read_only, name).toBe(true);
      expect(service.healthcheck.test.join(" "), name).toMatch(new RegExp(`healthcheck\\.mjs (${OPS_PATHS.healthz}|${OPS_PATHS.readyz})$`));
      expect(service.secrets, name).toContain("ca.pem");
      for (const secret of service.secrets) expect(compose.secrets[secret], `${name}: ${secret}`).toBeDefined();
      for (const config of service.configs ?? []) expect(existsRelative(compose.configs[config.source].file), config.source).toBe(true);
    }
    expect(compose.services.aggregator.volumes).toContain("aggregator-output:/var/lib/cohort");
    expect(compose.services["party-gpu"].deploy.resources.reservations.devices[0].driver).toBe("nvidia");
  });

  it("k8s: kustomize resources exist; Deployments non-root, read-only, probed on the ops server", () => {
    const docs = k8sDocs();
    const kinds = docs.map((d) => d.doc.kind);
    expect(kinds).toEqual(expect.arrayContaining(["Kustomization", "Namespace", "Deployment", "Service", "PersistentVolumeClaim"]));
    for (const { file, doc } of docs.filter((d) => d.doc.kind === "Kustomization")) {
      for (const resource of doc.resources ?? []) expect(statSync(resolve(DEPLOY, dirname(file), resource)), `${file}: ${resource}`).toBeTruthy();
      for (const generator of doc.configMapGenerator ?? []) for (const entry of generator.files) expect(existsRelative(entry.split("=")[1], join(DEPLOY, dirname(file))), entry).toBe(true);
    }
    const deployments = docs.filter((d) => d.doc.kind === "Deployment" && d.file.startsWith("k8s/base"));
    expect(deployments.map((d) => d.doc.metadata.name).sort()).toEqual(["aggregator", "party0"]);
    for (const { doc } of deployments) {
      const pod = doc.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const container of pod.containers) {
        expect(container.image).toMatch(/^cohort-(aggregator|party):/);
        expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
        const metricsPort = container.ports.find((p: Doc) => p.name === "metrics");
        expect(metricsPort.containerPort).toBe(METRICS_PORT);
        expect(container.livenessProbe.httpGet).toEqual({ path: OPS_PATHS.healthz, port: "metrics" });
        expect(container.readinessProbe.httpGet).toEqual({ path: OPS_PATHS.readyz, port: "metrics" });
        expect(container.volumeMounts.map((m: Doc) => m.mountPath)).toEqual(expect.arrayContaining(["/etc/cohort", "/run/secrets", "/tmp"]));
      }
    }
    const party = deployments.find((d) => d.doc.metadata.name === "party0")!.doc.spec.template.spec;
    expect(party.nodeSelector["cohort.dev/data-holder"]).toBe("party0");
    const service = docs.find((d) => d.doc.kind === "Service")!.doc;
    expect(service.metadata.name).toBe("aggregator");
    expect(service.spec.ports.map((p: Doc) => p.port)).toEqual([50051, 9464]);
    const gpu = docs.find((d) => d.file.includes("gpu-party") && d.doc.kind === "Deployment")!.doc;
    expect(gpu.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe(1);
  });
});

function existsRelative(path: string, base = DEPLOY): boolean {
  try {
    return statSync(resolve(base, path)).isFile();
  } catch {
    return false;
  }
}
