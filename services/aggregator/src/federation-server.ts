import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import { federationService } from "@cohort/wire";
import type { PartyAuthenticator } from "./auth.js";
import { ConnectionGuard, listenersOf } from "./connection-guard.js";
import { type AggregatorLimits, serverOptions } from "./limits.js";
import { serverCredentials } from "./server-credentials.js";
import { federationHandlers } from "./service.js";
import type { AggregatorSettings } from "./settings.js";
import type { FederationState } from "./state.js";

/**
 * The aggregator's gRPC server: the Federation service and the health service on one port, TLS
 * or plaintext, and the guard on connections that have not authenticated. Its own module so that
 * the Aggregator's start and close are about the run (its output, its resume point) and the
 * server's lifecycle (bind, serving status, shutdown) is in one place.
 */
export class FederationServer {
  private readonly server: grpc.Server;
  private readonly health = new HealthImplementation({ "": "NOT_SERVING", "cohort.v1.Federation": "NOT_SERVING" });
  /** Bounds connections that have not authenticated (deadlines, caps); logs failed TLS handshakes. */
  readonly guard: ConnectionGuard;

  constructor(limits: AggregatorLimits, settings: AggregatorSettings, private readonly log: Logger, metrics: AggregatorMetrics | undefined) {
    this.guard = new ConnectionGuard(limits, log, metrics);
    this.server = new grpc.Server(serverOptions(limits, settings.keepalive));
  }

  /** Binds settings' host and port (0 picks a free one) and serves `state`'s handlers; returns the bound port. */
  async listen(state: FederationState, settings: AggregatorSettings, auth: PartyAuthenticator): Promise<number> {
    this.server.addService(federationService(), federationHandlers(state));
    this.health.addToServer(this.server);
    const address = `${settings.host.includes(":") ? `[${settings.host}]` : settings.host}:${settings.port}`;
    const credentials = await serverCredentials(settings.tls, settings.allowInsecureKeyPermissions);
    if (!settings.tls) this.log.warn({ phase: "listen" }, "plaintext gRPC (tls_config not enabled): use only on loopback or a trusted network");
    if (auth.open) this.log.warn({ phase: "listen", insecure: true }, "--insecure: no TLS and no allow-list, any party name joins: use only on a trusted network");
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
    this.guard.attach(listenersOf(this.server));
    this.health.setStatus("", "SERVING");
    this.health.setStatus("cohort.v1.Federation", "SERVING");
    this.log.info({ phase: "listen", host: settings.host, port, tls: settings.tls ? (settings.tls.caFile ? "mutual" : "server") : "off", fusion: settings.algorithm, parties: settings.numParties, rounds: settings.rounds }, "aggregator listening");
    return port;
  }

  /** Stops taking calls and waits for those in flight. */
  async close(): Promise<void> {
    this.guard.stop();
    this.health.setStatus("", "NOT_SERVING");
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** Stops at once: cancels every call in flight. */
  forceClose(): void {
    this.guard.stop();
    this.server.forceShutdown();
  }
}
