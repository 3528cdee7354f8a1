import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { PartyAuthenticator } from "./auth.js";
import { FederationServer } from "./federation-server.js";
import { resolveLimits } from "./limits.js";
import type { AggregatorSettings } from "./settings.js";
import type { FederationState } from "./state.js";
import { capturingLogger } from "../../../test/helpers/federation.js";

/** grpc.health.v1.Health/Check for the whole server (empty request), over a real loopback connection: the status number. */
function healthStatus(port: number): Promise<number> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<number>((resolve, reject) => {
    client.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (error, response) => {
      client.close();
      // HealthCheckResponse: field 1 (status) as a varint: 0x08, status.
      if (error) reject(error); else resolve(response![1]!);
    });
  });
}

describe("FederationServer", () => {
  it("binds a free port, serves health as SERVING over plaintext with a warning, and stops taking calls once closed", async () => {
    const { log, lines } = capturingLogger("aggregator");
    const settings = { host: "127.0.0.1", port: 0, algorithm: "fedavg", numParties: 2, rounds: 1 } as AggregatorSettings;
    const server = new FederationServer(resolveLimits(), settings, log, undefined);
    const port = await server.listen({} as FederationState, settings, new PartyAuthenticator([], true));
    expect(port).toBeGreaterThan(0);
    expect(await healthStatus(port)).toBe(1);
    expect(lines.some((l) => String(l.msg).startsWith("plaintext gRPC"))).toBe(true);
    expect(lines.some((l) => String(l.msg).startsWith("--insecure"))).toBe(true);
    expect(lines.find((l) => l.msg === "aggregator listening")).toMatchObject({ port, tls: "off" });
    await server.close();
    await expect(healthStatus(port)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });
});
