import * as grpc from "@grpc/grpc-js";
import { diffManifests, fingerprint, manifestByteLength } from "@cohort/tensors";
import {
  type DownloadRequest, type EvaluationAck, type EvaluationReport, type Instruction, type InstructionsRequest,
  type JoinRequest, type JoinResponse, type ModelChunk, type UploadMessage, type UploadResponse,
  FederationError, SESSION_KEY, chunksOf, failedPrecondition, invalidArgument, manifestFromMessage, notFound,
  permissionDenied, toServiceError,
} from "@cohort/wire";
import type { FederationState } from "./state.js";
import { type IdentifiableCall, identify } from "./identity.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { rejectionReason } from "./rejection-reason.js";
import { idleGuard, releaseOnEnd } from "./stream-guard.js";
import { receiveUpload } from "./upload-receiver.js";

/** Largest topology JSON a party may send with its join (it is stored, never executed). */
export const MAX_TOPOLOGY_BYTES = DEFAULT_LIMITS.maxTopologyBytes;

type Handler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/** The Federation service's handlers over the aggregator's state; every failure becomes a gRPC status here. */
export function federationHandlers(state: FederationState): grpc.UntypedServiceImplementation {
  const { log } = state;

  // One place maps errors to statuses: refusals keep their code, faults are logged and hidden.
  const fail = (rpc: string, party: string | undefined, error: unknown) => {
    if (error instanceof FederationError) {
      log.warn({ rpc, party, code: grpc.status[error.code], reason: error.message }, "request refused");
    } else {
      log.error({ rpc, party, err: error }, "internal error while serving a request");
    }
    return toServiceError(error);
  };

  const authenticate = (call: IdentifiableCall) =>
    identify(call, state.auth, state.identity, state.limits);

  const sessionParty = (call: IdentifiableCall): string => {
    const party = authenticate(call);
    const session = call.metadata.get(SESSION_KEY)[0];
    if (typeof session !== "string" || !state.registry.isCurrentSession(party, session)) {
      throw new FederationError(grpc.status.ABORTED, "session is not current: join again");
    }
    return party;
  };

  const join: Handler<JoinRequest, JoinResponse> = (call, callback) => {
    let party: string | undefined;
    try {
      party = authenticate(call);
      const request = call.request;
      if (request.partyName && request.partyName !== party) throw permissionDenied(`credential is for party ${party}, not ${request.partyName}`);
      let manifest;
      try {
        manifest = manifestFromMessage(request.manifest);
      } catch (error) {
        throw invalidArgument(`manifest: ${(error as Error).message}`);
      }
      if (fingerprint(manifest) !== request.manifestFingerprint) throw invalidArgument("manifest fingerprint does not match the manifest sent");
      if (!Number.isSafeInteger(request.numTrainExamples) || request.numTrainExamples < 1) throw invalidArgument("num_train_examples must be a positive integer");
      if (request.modelTopology.length > state.limits.maxTopologyBytes) throw invalidArgument(`model topology exceeds ${state.limits.maxTopologyBytes} bytes`);
      if (request.backend.length > state.limits.maxBackendBytes) throw invalidArgument(`backend name exceeds ${state.limits.maxBackendBytes} bytes`);
      // The model's size decides staging and the float64 accumulator: a claim of 100 GB is refused here, before either exists.
      if (manifestByteLength(manifest) > state.limits.maxModelBytes) throw invalidArgument(`the model's ${manifestByteLength(manifest)} bytes exceed the aggregator's limit of ${state.limits.maxModelBytes}`);

      const store = state.store;
      let sendInitialWeights = false;
      if (!store.manifest) {
        store.setManifest(manifest);
        state.initialWeightsFrom = party;
        sendInitialWeights = true;
      } else if (store.fingerprint !== request.manifestFingerprint) {
        const differences = diffManifests(store.manifest, manifest);
        throw failedPrecondition(`model does not match the federation's (${differences.length} differences): ${differences.slice(0, 20).join("; ")}`);
      } else if (!store.latest && state.initialWeightsFrom === party) {
        sendInitialWeights = true;
      }
      if (!store.topology && request.modelTopology) store.topology = request.modelTopology;
      const record = state.registry.join(party, request.numTrainExamples, request.backend);
      log.info({ party, phase: "join", examples: request.numTrainExamples, backend: request.backend, joins: record.joins }, "party joined");
      callback(null, {
        partyId: party, sessionId: record.sessionId, sendInitialWeights,
        currentRound: state.currentRound(), chunkSize: state.chunkSize,
      });
    } catch (error) {
      callback(fail("Join", party, error));
    }
  };

  const instructions = (call: grpc.ServerWritableStream<InstructionsRequest, Instruction>) => {
    let party: string | undefined;
    try {
      party = sessionParty(call);
      releaseOnEnd(call, state.quota.acquire(party, "instructions"));
      state.registry.attach(party, call);
      log.info({ party, phase: "connect" }, "instruction stream open");
      state.onConnected(party);
    } catch (error) {
      call.emit("error", fail("Instructions", party, error)); // grpc-js sends the status from its own "error" listener; destroy() would leave the call hanging
    }
  };

  const download = async (call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>) => {
    let party: string | undefined;
    let release: (() => void) | undefined;
    try {
      party = sessionParty(call);
      release = state.quota.acquire(party, "download");
      const { round, offset } = call.request;
      const model = state.store.get(round);
      if (!model) throw notFound(`no global model for round ${round} (latest is ${state.store.latest?.round ?? "none"})`);
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > model.bytes.byteLength) throw invalidArgument(`offset ${offset} outside the model's ${model.bytes.byteLength} bytes`);
      const started = Date.now();
      let sent = 0;
      for (const chunk of chunksOf(model.bytes, state.chunkSize, offset)) {
        if (call.cancelled) return;
        const last = chunk.offset + chunk.data.byteLength === model.bytes.byteLength;
        const ok = call.write({ offset: chunk.offset, data: chunk.data, totalBytes: model.bytes.byteLength, sha256: last ? model.sha256 : "" });
        sent += chunk.data.byteLength;
        // A peer that stops reading must not hold the call (and its slot) forever: cancellation also ends the wait.
        if (!ok) await drainOrCancel(call);
      }
      if (model.bytes.byteLength === offset) call.write({ offset, data: new Uint8Array(0), totalBytes: offset, sha256: model.sha256 });
      state.bytesOut += sent;
      state.metrics?.sent(sent);
      log.debug({ party, round, phase: "download", bytes: sent, ms: Date.now() - started }, "model sent");
      call.end();
    } catch (error) {
      call.emit("error", fail("DownloadModel", party, error)); // grpc-js sends the status from its own "error" listener; destroy() would leave the call hanging
    } finally {
      release?.();
    }
  };

  const upload = async (call: grpc.ServerReadableStream<UploadMessage, UploadResponse>, callback: grpc.sendUnaryData<UploadResponse>) => {
    let party: string | undefined;
    let release: (() => void) | undefined;
    try {
      party = sessionParty(call);
      release = state.quota.acquire(party, "upload");
      const manifest = state.store.manifest;
      if (!manifest) throw failedPrecondition("the federation has no model yet");
      const name = party;
      const started = Date.now();
      let admitted: number | undefined;
      const received = await receiveUpload(idleGuard(call, state.limits.uploadIdleMs), {
        manifest, chunkSize: state.chunkSize, staging: state.staging,
        admit: (header) => {
          state.admitUpload(name, header);
          admitted = header.round;
        },
      }).catch((error: unknown) => {
        if (admitted !== undefined) state.rejectUpload(name, admitted, error instanceof Error ? error.message : String(error));
        throw error;
      });
      state.bytesIn += received.bytes;
      state.metrics?.received(received.bytes);
      await state.acceptUpload(name, received);
      log.info({ party, round: received.header.round, phase: "upload", bytes: received.bytes, ms: Date.now() - started }, "update accepted");
      callback(null, { accepted: true, bytesReceived: received.bytes });
    } catch (error) {
      state.metrics?.updateRejected(rejectionReason(error));
      callback(fail("UploadUpdate", party, error));
    } finally {
      release?.();
    }
  };

  const report: Handler<EvaluationReport, EvaluationAck> = (call, callback) => {
    let party: string | undefined;
    try {
      party = sessionParty(call);
      state.acceptEvaluation(party, call.request);
      callback(null, {});
    } catch (error) {
      callback(fail("ReportEvaluation", party, error));
    }
  };

  return {
    Join: join, Instructions: instructions, DownloadModel: download, UploadUpdate: upload, ReportEvaluation: report,
  } as unknown as grpc.UntypedServiceImplementation;
}

/** Waits until a server stream can take more, or the peer went away; removes both listeners after. */
function drainOrCancel(call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      resolve();
    };
    call.once("drain", done);
    call.once("cancelled", done);
  });
}
