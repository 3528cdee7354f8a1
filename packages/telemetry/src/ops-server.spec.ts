import { afterEach, describe, expect, it } from "vitest";
import { AggregatorMetrics } from "./aggregator-metrics.js";
import { type OpsServer, startOpsServer } from "./ops-server.js";

const servers: OpsServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function start(ready: () => string | undefined) {
  const metrics = new AggregatorMetrics();
  const server = await startOpsServer({ host: "127.0.0.1", port: 0, registry: metrics.registry, ready });
  servers.push(server);
  return { server, metrics };
}

describe("startOpsServer", () => {
  it("serves /healthz, /readyz (503 with the reason until ready) and /metrics", async () => {
    let reason: string | undefined = "waiting for the model";
    const { server, metrics } = await start(() => reason);
    expect(server.port).toBeGreaterThan(0);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toMatch(/waiting for the model/);
    reason = undefined;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    metrics.received(42);
    const scrape = await fetch(`${server.url}/metrics`);
    expect(scrape.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scrape.text()).toMatch(/^cohort_aggregator_received_bytes_total 42$/m);
  });

  it("answers 404 elsewhere and 405 to other methods", async () => {
    const { server } = await start(() => undefined);
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });
});
