import * as grpc from "@grpc/grpc-js";
import { type Manifest, fingerprint } from "@cohort/tensors";
import {
  AUTHORIZATION_KEY, type Instruction, type JoinResponse, PARTY_KEY, SESSION_KEY, type UploadMessage,
  federationClientConstructor, manifestToMessage,
} from "@cohort/wire";

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/**
 * A hand-driven Federation client for tests that need to misbehave in precise ways (stop an
 * upload halfway, send bad chunks), which the real Party never does.
 */
export class RawClient {
  readonly client: Client;
  session: JoinResponse | undefined;
  instructions: grpc.ClientReadableStream<Instruction> | undefined;

  constructor(port: number, readonly name: string, readonly token: string) {
    const Client = federationClientConstructor();
    this.client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as Client;
  }

  metadata(): grpc.Metadata {
    const m = new grpc.Metadata();
    m.set(AUTHORIZATION_KEY, `Bearer ${this.token}`);
    m.set(PARTY_KEY, this.name);
    if (this.session) m.set(SESSION_KEY, this.session.sessionId);
    return m;
  }

  async join(manifest: Manifest, numTrainExamples = 10): Promise<JoinResponse> {
    this.session = await new Promise<JoinResponse>((resolve, reject) =>
      this.client.Join({ partyName: this.name, manifestFingerprint: fingerprint(manifest), manifest: manifestToMessage(manifest), numTrainExamples, backend: "raw", modelTopology: "" },
        this.metadata(), (e: grpc.ServiceError | null, r: JoinResponse) => (e ? reject(e) : resolve(r))));
    return this.session;
  }

  /** Opens the instruction stream and resolves with the first instruction of the given kind. */
  async waitFor(kind: Instruction["kind"]): Promise<Instruction> {
    this.instructions ??= this.client.Instructions({ sessionId: this.session!.sessionId }, this.metadata()) as grpc.ClientReadableStream<Instruction>;
    const stream = this.instructions;
    return new Promise((resolve, reject) => {
      const onData = (i: Instruction) => { if (i.kind === kind) { stream.off("data", onData); resolve(i); } };
      stream.on("data", onData);
      stream.on("error", reject);
    });
  }

  /** Answers every evaluate instruction with an empty report, as a connected party that stays would. */
  autoEvaluate(): void {
    this.instructions?.on("data", (i: Instruction) => {
      if (i.kind !== "evaluate") return;
      this.client.ReportEvaluation({ round: i.evaluate.round, numExamples: 0, metrics: {} }, this.metadata(), () => undefined);
    });
  }

  /** Starts an upload and returns the call, so a test can write what it likes and then cancel or end it. */
  startUpload(): { call: grpc.ClientWritableStream<UploadMessage>; result: Promise<unknown> } {
    let call!: grpc.ClientWritableStream<UploadMessage>;
    const result = new Promise((resolve, reject) => {
      call = this.client.UploadUpdate(this.metadata(), (e: grpc.ServiceError | null, r: unknown) => (e ? reject(e) : resolve(r))) as grpc.ClientWritableStream<UploadMessage>;
    });
    result.catch(() => undefined);
    return { call, result };
  }

  close(): void {
    this.instructions?.cancel();
    this.client.close();
  }
}
