import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { Instruction, InstructionsRequest } from "@cohort/wire";

export interface PartyRecord {
  name: string;
  sessionId: string;
  numTrainExamples: number;
  /** Size of its evaluation data as declared at join (0: not declared). */
  numTestExamples: number;
  backend: string;
  joins: number;
  stream?: ServerWritableStream<InstructionsRequest, Instruction>;
}

/**
 * Parties that joined, their current session and their instruction stream. A party is
 * "connected" while its instruction stream is open; a rejoin replaces the session, and the
 * old session's calls are refused from then on. Emits "connected" and "disconnected" (name).
 */
export class PartyRegistry extends EventEmitter {
  private readonly parties = new Map<string, PartyRecord>();

  join(name: string, numTrainExamples: number, backend: string, numTestExamples = 0): PartyRecord {
    const previous = this.parties.get(name);
    const record: PartyRecord = { name, sessionId: randomUUID(), numTrainExamples, numTestExamples, backend, joins: (previous?.joins ?? 0) + 1 };
    this.parties.set(name, record);
    // The previous session's instruction stream may linger (a link that died silently, until
    // keepalive notices): it is disconnected now, not whenever its connection finally closes.
    const stale = previous?.stream;
    if (stale) {
      previous.stream = undefined;
      stale.end();
      this.emit("disconnected", name);
    }
    return record;
  }

  get(name: string): PartyRecord | undefined {
    return this.parties.get(name);
  }

  /** Every party that joined at least once, in order of first join. */
  joined(): string[] {
    return [...this.parties.keys()];
  }

  isCurrentSession(name: string, sessionId: string): boolean {
    return this.parties.get(name)?.sessionId === sessionId;
  }

  attach(name: string, stream: ServerWritableStream<InstructionsRequest, Instruction>): void {
    const record = this.parties.get(name);
    if (!record) return;
    record.stream = stream;
    const detach = () => {
      // Only the current session's stream: an old one closing late must not drop the party that came back.
      if (record.stream === stream && this.parties.get(name) === record) {
        record.stream = undefined;
        this.emit("disconnected", name);
      }
    };
    stream.on("cancelled", detach);
    stream.on("close", detach);
    stream.on("error", detach);
    this.emit("connected", name);
  }

  /** Names of parties whose instruction stream is open, in join order. */
  connected(): string[] {
    return [...this.parties.values()].filter((p) => p.stream && !p.stream.cancelled).map((p) => p.name);
  }

  send(name: string, instruction: Instruction): boolean {
    const stream = this.parties.get(name)?.stream;
    if (!stream || stream.cancelled) return false;
    stream.write(instruction);
    return true;
  }

  /** Ends every open instruction stream (after a final instruction such as stop). */
  closeAll(): void {
    for (const p of this.parties.values()) p.stream?.end();
  }

  /** Resolves with the connected parties once `count` are connected, or at the deadline with those there are. */
  async waitForConnected(count: number, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
    if (this.connected().length >= count) return this.connected();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.off("connected", check);
        signal?.removeEventListener("abort", finish);
        resolve(this.connected());
      };
      const check = () => { if (this.connected().length >= count) finish(); };
      const timer = setTimeout(finish, timeoutMs);
      this.on("connected", check);
      signal?.addEventListener("abort", finish);
    });
  }
}
