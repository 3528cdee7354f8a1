// A hand-driven party for benchmarks that must time or share what the real Party does
// internally: it joins, follows the instruction stream, and lets the benchmark decide how to
// train (upload) and evaluate. Transfers use the party service's own downloadModel/uploadUpdate
// or, for many uploaders of one shared buffer, the same message sequence without packing.
import * as grpc from "@grpc/grpc-js";
import { fingerprint } from "@cohort/tensors";
import { AUTHORIZATION_KEY, PARTY_KEY, SESSION_KEY, TRANSFER_CHANNEL_OPTIONS, chunksOf, federationClientConstructor, manifestToMessage } from "@cohort/wire";

export class LeanParty {
  constructor(port, name, token) {
    const Client = federationClientConstructor();
    this.name = name;
    this.token = token;
    // Own connection per party (as separate processes would have): grpc-js otherwise shares one
    // subchannel among same-target clients, and the aggregator caps streams per connection.
    this.client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { ...TRANSFER_CHANNEL_OPTIONS, "grpc.use_local_subchannel_pool": 1 });
  }

  metadata() {
    const m = new grpc.Metadata();
    m.set(AUTHORIZATION_KEY, `Bearer ${this.token}`);
    m.set(PARTY_KEY, this.name);
    if (this.session) m.set(SESSION_KEY, this.session.sessionId);
    return m;
  }

  async join(manifest, numTrainExamples = 100) {
    this.session = await new Promise((resolve, reject) =>
      this.client.Join({ partyName: this.name, manifestFingerprint: fingerprint(manifest), manifest: manifestToMessage(manifest), numTrainExamples, backend: "bench", modelTopology: "" },
        this.metadata(), (e, r) => (e ? reject(e) : resolve(r))));
    return this.session;
  }

  /** Follows instructions until stop: `onTrain(round)` must upload; evaluations are answered with an empty report. */
  async follow({ onTrain, onEvaluate }) {
    const stream = this.client.Instructions({ sessionId: this.session.sessionId }, this.metadata());
    for await (const instruction of stream) {
      if (instruction.kind === "train") await onTrain(instruction.train.round);
      else if (instruction.kind === "evaluate") {
        await onEvaluate?.(instruction.evaluate.round);
        await new Promise((resolve, reject) => this.client.ReportEvaluation({ round: instruction.evaluate.round, numExamples: 1, metrics: {} }, this.metadata(), (e) => (e ? reject(e) : resolve())));
      } else if (instruction.kind === "stop") {
        stream.cancel();
        return instruction.stop.reason;
      }
    }
    return "stream ended";
  }

  close() {
    this.client.close();
  }
}

/** The upload message sequence of uploadUpdate, streamed from already packed bytes and their known CRC-32. */
export async function uploadPacked(party, bytes, crc32, chunkSize, header) {
  let call;
  const response = new Promise((resolve, reject) => {
    call = party.client.UploadUpdate(party.metadata(), (error, value) => (error ? reject(error) : resolve(value)));
  });
  const write = async (message) => {
    if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
  };
  await write({ header });
  for (const chunk of chunksOf(bytes, chunkSize)) await write({ chunk });
  await write({ trailer: { crc32 } });
  call.end();
  return response;
}
