// TypeScript shapes of the cohort.v1 messages as @grpc/proto-loader presents them
// (camelCase, 64-bit integers as numbers, bytes as Buffer, oneof name in `kind`).

export interface TensorSpecMessage { name: string; dtype: string; shape: number[] }
export interface ManifestMessage { tensors: TensorSpecMessage[] }

export interface JoinRequest {
  partyName: string;
  manifestFingerprint: string;
  manifest: ManifestMessage | null;
  numTrainExamples: number;
  backend: string;
  modelTopology: string;
  /** Size of the party's evaluation data (0 or absent from a party that predates it). */
  numTestExamples?: number;
}
export interface JoinResponse {
  partyId: string;
  sessionId: string;
  sendInitialWeights: boolean;
  currentRound: number;
  chunkSize: number;
  /** How updates must travel (UpdateEncoding); empty from an aggregator that predates it: float32. */
  updateEncoding?: string;
}

export interface InstructionsRequest { sessionId: string }
export interface LocalHyperparamsMessage {
  epochs: number;
  batchSize: number;
  stepsPerEpoch: number;
  validationSplit: number;
  learningRate: number;
  /** FedProx's mu (0 or absent: no proximal term). */
  proximalMu?: number;
  /** Distributed DP: the clip norm of the party's update (0 or absent: off) and its share of the noise. */
  dpClipNorm?: number;
  dpNoiseStddev?: number;
}
/** A secure round's parameters (secure_aggregation.proto). */
export interface SecureAggregationParamsMessage { threshold: number; neighbours: number; clippingRange: number; quantizationBits: number; totalExamples: number; equalWeights?: boolean }
export interface PartyKeysMessage { party: string; encryptionKey: Uint8Array; maskingKey: Uint8Array; seedCommitment: Uint8Array }
export interface SealedShareMessage { from: string; to: string; ciphertext: Uint8Array }
export interface AdvertiseKeysRequest { round: number; encryptionKey: Uint8Array; maskingKey: Uint8Array; seedCommitment: Uint8Array }
export interface ShareKeysRequest { round: number; shares: SealedShareMessage[] }
export interface RevealedShareMessage { owner: string; maskingKey: boolean; value: Uint8Array }
export interface UnmaskRequest { round: number; shares: RevealedShareMessage[] }
/** The secure rounds' empty responses. */
export type SecureAggregationAck = Record<string, never>;

export type Instruction =
  | { kind: "train"; train: { round: number; hyperparams: LocalHyperparamsMessage; secureAggregation?: SecureAggregationParamsMessage | null } }
  | { kind: "shareKeys"; shareKeys: { round: number; roster: PartyKeysMessage[] } }
  | { kind: "maskedInput"; maskedInput: { round: number; shares: SealedShareMessage[] } }
  | { kind: "unmask"; unmask: { round: number; survivors: string[]; dropped: string[] } }
  | { kind: "evaluate"; evaluate: { round: number } }
  | { kind: "wait"; wait: { reason: string } }
  | { kind: "stop"; stop: { reason: string } };

export interface DownloadRequest { round: number; offset: number }
/** `crc32` is set on the chunk that ends the model (0 on the others). */
export interface ModelChunk { offset: number; data: Uint8Array; totalBytes: number; crc32: number }

export interface UpdateHeader {
  round: number;
  numExamples: number;
  metrics: Record<string, number>;
  trainSeconds: number;
  /** UpdateEncoding of the chunks; empty means float32. */
  encoding?: string;
}
export interface UpdateChunk { offset: number; data: Uint8Array }
export interface UpdateTrailer { crc32: number }
export type UploadMessage =
  | { kind: "header"; header: UpdateHeader }
  | { kind: "chunk"; chunk: UpdateChunk }
  | { kind: "trailer"; trailer: UpdateTrailer };
export interface UploadResponse { accepted: boolean; bytesReceived: number }

export interface EvaluationReport { round: number; numExamples: number; metrics: Record<string, number> }
export type EvaluationAck = Record<string, never>;
/** A party's local training of `round` failed; `reason` is its error message. */
export interface TrainingFailure { round: number; reason: string }
export type TrainingFailureAck = Record<string, never>;
