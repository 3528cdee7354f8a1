import { integer, section, text } from "./schema-helpers.js";

/** Loopback by default: metrics and probes are for the machine's own agents unless opened on purpose. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/**
 * `metrics: {port, host}`: the HTTP server for /metrics, /healthz and /readyz, on both
 * services. Absent = no server. In a container set host to 0.0.0.0 so probes can reach it.
 */
export const metricsSchema = section({
  port: integer(0, 65535, "0 picks a free port"),
  host: text("a host name or IP address to listen on").default(DEFAULT_METRICS_HOST),
});

/** The normalized section. */
export interface MetricsEndpoint {
  host: string;
  port: number;
}
