import { type AddressInfo, type Server, type Socket, createConnection, createServer } from "node:net";

/**
 * A TCP proxy on loopback between a party and the aggregator, whose link a test can cut and
 * restore. `cut()` destroys both ends of every connection (both peers see it at once);
 * `cut({ halfOpen: true })` destroys only the party's end and leaves the aggregator's end open
 * and silent, as when a link dies without a FIN: the aggregator's streams on it linger.
 * `cut({ blackhole: true })` leaves both ends open and discards every byte either way (no FIN,
 * no RST, TCP still acknowledges), as when a route black-holes packets: neither peer notices
 * unless it sends something that needs an answer (an HTTP/2 keepalive ping).
 * While cut, new connections are refused (accepted and closed at once).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private readonly lingering: Socket[] = [];
  private down = false;
  connections = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      this.connections++;
      const upstream = createConnection(this.target);
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = () => {
        if (!this.pairs.delete(pair)) return;
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Cuts every connection and refuses new ones until `restore()`. */
  cut(options: { halfOpen?: boolean; blackhole?: boolean } = {}): void {
    this.down = true;
    for (const pair of [...this.pairs]) {
      this.pairs.delete(pair);
      if (options.blackhole) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        for (const socket of [pair.client, pair.upstream]) {
          socket.removeAllListeners("close");
          socket.on("error", () => undefined);
          socket.on("data", () => undefined);
          this.lingering.push(socket);
        }
      } else if (options.halfOpen) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.upstream.pause();
        pair.upstream.removeAllListeners("close");
        pair.upstream.on("error", () => undefined);
        this.lingering.push(pair.upstream);
        pair.client.destroy();
      } else {
        pair.client.destroy();
        pair.upstream.destroy();
      }
    }
  }

  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    for (const s of this.lingering.splice(0)) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
