import type { MetricsEndpoint } from "@cohort/config";
import { type Logger, type OpsServer, type ReadinessCheck, type Registry, startOpsServer } from "@cohort/telemetry";

/**
 * Starts the HTTP /metrics, /healthz, /readyz server of a service when its config has a
 * `metrics` section, and logs where it listens (port 0 picks one, so the log says which).
 * Started before the slow parts (model, data) so that liveness answers while they load.
 */
export async function startOpsEndpoint(endpoint: MetricsEndpoint | undefined, metrics: { registry: Registry } | undefined, ready: ReadinessCheck, log: Logger): Promise<OpsServer | undefined> {
  if (!endpoint || !metrics) return undefined;
  const server = await startOpsServer({ host: endpoint.host, port: endpoint.port, registry: metrics.registry, ready });
  log.info({ phase: "metrics", host: endpoint.host, port: server.port, url: `${server.url}/metrics` }, "serving /metrics, /healthz and /readyz");
  return server;
}
