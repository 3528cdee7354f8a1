import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** Why a service is not ready yet (undefined = ready). */
export type ReadinessCheck = () => string | undefined;

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port (tests); the bound port is returned. */
  port: number;
  registry: Registry;
  ready: ReadinessCheck;
}

export interface OpsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Paths the Kubernetes probes, compose HEALTHCHECKs and Prometheus use; deploy/ refers to them. */
export const OPS_PATHS = { metrics: "/metrics", healthz: "/healthz", readyz: "/readyz" } as const;

/**
 * A tiny HTTP server for operations, apart from the gRPC port so that probes and scrapes need
 * neither TLS client certificates nor a token: GET /healthz (200 while the process serves
 * requests at all: liveness), /readyz (200 once the service can do its work, else 503 with the
 * reason), /metrics (Prometheus text). It binds to loopback unless configured otherwise, and
 * serves nothing else.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, "text/plain", `error: ${(error as Error).message}\n`);
      else response.destroy();
    });
  });
  // A scrape is short; an idle keep-alive socket should not hold the process open at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, options: OpsServerOptions): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.setHeader("Allow", "GET, HEAD");
    send(response, 405, "text/plain", "method not allowed\n");
    return;
  }
  const path = (request.url ?? "/").split("?")[0];
  switch (path) {
    case OPS_PATHS.healthz:
      send(response, 200, "text/plain", "ok\n");
      return;
    case OPS_PATHS.readyz: {
      const reason = options.ready();
      send(response, reason === undefined ? 200 : 503, "text/plain", reason === undefined ? "ready\n" : `not ready: ${reason}\n`);
      return;
    }
    case OPS_PATHS.metrics:
      send(response, 200, options.registry.contentType, await options.registry.metrics());
      return;
    default:
      send(response, 404, "text/plain", "not found: try /metrics, /healthz or /readyz\n");
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  response.end(response.req.method === "HEAD" ? undefined : body);
}
