import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { loadAll } from "js-yaml";
import { describe, expect, it } from "vitest";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Service } from "kubernetes-models/v1/Service";

// Validates every Kubernetes object under deploy/k8s against the Kubernetes OpenAPI schemas
// (kubernetes-models): a misspelled field or a wrong type fails here, not at `kubectl apply`.
const K8S = join(process.cwd(), "deploy", "k8s");
const MODELS: Record<string, new (doc: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment as never,
  "v1/Namespace": Namespace as never,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim as never,
  "v1/Service": Service as never,
};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? yamlFiles(path) : /\.ya?ml$/.test(name) ? [path] : [];
  });
}

const objects = yamlFiles(K8S).flatMap((file) =>
  (loadAll(readFileSync(file, "utf8")) as Record<string, unknown>[]).filter(Boolean).map((doc) => ({ file: relative(K8S, file), doc })));

/** Files a kustomization applies as strategic-merge patches: partial objects, checked once merged onto their base. */
const patchFiles = new Set(objects.filter(({ doc }) => doc.kind === "Kustomization").flatMap(({ file, doc }) =>
  ((doc.patches ?? []) as { path?: string }[]).filter((p) => p.path).map((p) => join(file, "..", p.path!))));

/** Strategic merge as kustomize does it for these manifests: objects deep-merged, named list items merged by name. */
function strategicMerge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => p && typeof p === "object" && "name" in p)) {
    const merged = base.map((item) => {
      const match = patch.find((p) => p.name === (item as { name?: string }).name);
      return match ? strategicMerge(item, match) : item;
    });
    return [...merged, ...patch.filter((p) => !base.some((b) => (b as { name?: string }).name === p.name))];
  }
  if (base && patch && typeof base === "object" && typeof patch === "object" && !Array.isArray(base) && !Array.isArray(patch)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(patch)) out[key] = key in out ? strategicMerge(out[key], value) : value;
    return out;
  }
  return patch;
}

describe("deploy/k8s against the Kubernetes schemas", () => {
  const complete = objects.filter(({ file, doc }) => doc.kind !== "Kustomization" && !patchFiles.has(file));
  const patched = objects.filter(({ file }) => patchFiles.has(file)).map(({ file, doc }) => {
    const base = complete.find((c) => c.doc.kind === doc.kind && (c.doc.metadata as { name: string }).name === (doc.metadata as { name: string }).name);
    if (!base) throw new Error(`${file} patches ${String(doc.kind)} ${(doc.metadata as { name: string }).name}, which no base file defines`);
    return { file: `${file} (merged onto ${base.file})`, doc: strategicMerge(base.doc, doc) as Record<string, unknown> };
  });
  const resources = [...complete, ...patched];

  it("has every kind it needs, and no kind the test cannot check", () => {
    const kinds = resources.map(({ doc }) => `${doc.apiVersion}/${doc.kind}`);
    expect(new Set(kinds)).toEqual(new Set(Object.keys(MODELS)));
  });

  it.each(resources.map(({ file, doc }) => [file, doc] as const))("%s is a valid object", (_file, doc) => {
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    expect(() => new Model(doc as never).validate()).not.toThrow();
  });

  it("catches a wrong field type (the validation is real)", () => {
    const deployment = structuredClone(resources.find(({ doc }) => doc.kind === "Deployment")!.doc) as { spec: { replicas: unknown } };
    deployment.spec.replicas = "two";
    expect(() => new Deployment(deployment as never).validate()).toThrow(/replicas/);
  });
});
