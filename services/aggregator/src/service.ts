import * as grpc from "@grpc/grpc-js";
import { diffManifests, fingerprint, manifestByteLength } from "@cohort/tensors";
import {
  type DownloadRequest, type EvaluationAck, type EvaluationReport, type Instruction, type InstructionsRequest,
  type AdvertiseKeysRequest, type SecureAggregationAck, type ShareKeysRequest, type UnmaskRequest,
  type JoinRequest, type JoinResponse, type ModelChunk, type TrainingFailure, type TrainingFailureAck, type UploadMessage, type UploadResponse,
  FederationError, SESSION_KEY, failedPrecondition, invalidArgument, manifestFromMessage, notFound,
  permissionDenied, toServiceError,
} from "@cohort/wire";
import type { BoundedTransfer } from "./deadlines.js";
import type { FederationState } from "./state.js";
import type { SecureRound } from "./secure-round.js";
import type { ModelReader } from "./model-store.js";
import { type IdentifiableCall, identify } from "./identity.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { CooldownError, RejectionLimiter, addressKey, partyKey, peerAddress } from "./rejection-limiter.js";
import { rejectionReason } from "./rejection-reason.js";
import { idleGuard, releaseOnEnd, untilAborted } from "./stream-guard.js";
import { receiveBufferBytes, receiveUpload } from "./upload-receiver.js";
import { UploadWindows } from "./upload-window.js";

/** Largest topology JSON a party may send with its join (it is stored, never executed). */
export const MAX_TOPOLOGY_BYTES = DEFAULT_LIMITS.maxTopologyBytes;

type Handler<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;
type Call = IdentifiableCall & { getPeer(): string };

/** The Federation service's handlers over the aggregator's state; every failure becomes a gRPC status here. */
export function federationHandlers(state: FederationState): grpc.UntypedServiceImplementation {
  const { log } = state;

  // One place maps errors to statuses: refusals keep their code, faults are logged and hidden.
  // Refusals a faulty or hostile peer earns count against it (party, else address); one that
  // is cooling down is refused quietly, with the time left as gRPC's retry pushback.
  const fail = (rpc: string, party: string | undefined, error: unknown, call: Call) => {
    if (error instanceof CooldownError) {
      log.debug({ rpc, party: error.party, peer: error.peer, code: "RESOURCE_EXHAUSTED", reason: error.message }, "request refused");
      if (error.party !== undefined) state.onCooldown(error.party);
      const status = toServiceError(error);
      const trailers = new grpc.Metadata();
      trailers.set("grpc-retry-pushback-ms", String(Math.ceil(error.retryAfterMs)));
      return { ...status, metadata: trailers };
    }
    if (error instanceof FederationError) {
      log.warn({ rpc, party, code: grpc.status[error.code], reason: error.message }, "request refused");
      if (RejectionLimiter.isStrike(error)) {
        const peer = party !== undefined ? partyKey(party) : addressKey(peerAddress(call.getPeer()));
        if (state.rejections.strike(peer)) {
          log.warn({ rpc, party, peer, phase: "cooldown", rejections: state.limits.maxRejections, window_ms: state.limits.rejectionWindowMs, cooldown_ms: state.limits.rejectionCooldownMs }, "too many refused calls: the peer's calls are refused for a while");
          if (party !== undefined) state.onCooldown(party);
        }
      }
    } else {
      log.error({ rpc, party, err: error }, "internal error while serving a request");
    }
    return toServiceError(error);
  };

  // Uploads in flight with a wide HTTP/2 receive window (at most WIDE_UPLOADS_MAX at a time).
  const uploadWindows = new UploadWindows();

  // A caller that does not authenticate is known by its address only; a cooling-down address
  // does not lock out a party with valid credentials behind the same address (NAT).
  const authenticate = (call: Call): string => {
    let party: string;
    try {
      party = identify(call, state.auth, state.identity, state.limits);
    } catch (error) {
      state.rejections.check(addressKey(peerAddress(call.getPeer())));
      throw error;
    }
    state.rejections.check(partyKey(party), party);
    state.connectionAuthenticated?.(call.getPeer());
    return party;
  };

  const sessionParty = (call: Call): string => {
    const party = authenticate(call);
    const session = call.metadata.get(SESSION_KEY)[0];
    if (typeof session !== "string" || !state.registry.isCurrentSession(party, session)) {
      throw new FederationError(grpc.status.ABORTED, "session is not current: join again");
    }
    return party;
  };

  const sessionOf = (call: Call) => call.metadata.get(SESSION_KEY)[0] as string;
  // Ends a stream with this refusal when the signal aborts (its party rejoined, or missed a deadline).
  const cancelWith = (controller: AbortController) => (reason: string) => controller.abort(new FederationError(grpc.status.ABORTED, reason));

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
      const numTestExamples = request.numTestExamples ?? 0;
      if (!Number.isSafeInteger(numTestExamples) || numTestExamples < 0) throw invalidArgument("num_test_examples must be a non-negative integer");
      const record = state.registry.join(party, request.numTrainExamples, request.backend, numTestExamples);
      const superseded = state.quota.supersede(party, record.sessionId);
      log.info({ party, phase: "join", examples: request.numTrainExamples, test_examples: numTestExamples, backend: request.backend, joins: record.joins, superseded_streams: superseded }, "party joined");
      if (state.auth.open) log.warn({ party, phase: "join", insecure: true }, `${party} joined without credentials (--insecure: no allow-list)`);
      callback(null, {
        partyId: party, sessionId: record.sessionId, sendInitialWeights,
        currentRound: state.currentRound(), chunkSize: state.chunkSize, updateEncoding: state.updateEncoding,
      });
    } catch (error) {
      callback(fail("Join", party, error, call));
    }
  };

  const instructions = (call: grpc.ServerWritableStream<InstructionsRequest, Instruction>) => {
    let party: string | undefined;
    try {
      party = sessionParty(call);
      releaseOnEnd(call, state.quota.acquire(party, "instructions", { session: sessionOf(call) }));
      state.registry.attach(party, call);
      log.info({ party, phase: "connect" }, "instruction stream open");
      state.onConnected(party);
    } catch (error) {
      call.emit("error", fail("Instructions", party, error, call)); // grpc-js sends the status from its own "error" listener; destroy() would leave the call hanging
    }
  };

  const download = async (call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>) => {
    let party: string | undefined;
    let release: (() => void) | undefined;
    let bound: BoundedTransfer | undefined;
    let model: ModelReader | undefined;
    let next: Promise<Uint8Array> | undefined;
    try {
      party = sessionParty(call);
      const superseded = new AbortController();
      release = state.quota.acquire(party, "download", { session: sessionOf(call), cancel: cancelWith(superseded) });
      const { round, offset } = call.request;
      // The round's checkpoint file, held open (and its round's descriptor kept) until this call ends.
      model = state.store.open(round);
      if (!model) throw notFound(`no global model for round ${round} (latest is ${state.store.latest?.round ?? "none"})`);
      const size = model.size;
      if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) throw invalidArgument(`offset ${offset} outside the model's ${size} bytes`);
      bound = state.boundDownload(party, round);
      const signal = bound ? AbortSignal.any([superseded.signal, bound.signal]) : superseded.signal;
      const started = Date.now();
      let sent = 0;
      // Chunks are positional reads of the file, one read ahead of the chunk being written.
      const reader = model;
      const readChunk = (at: number) => (at < size ? reader.read(at, Math.min(state.chunkSize, size - at)) : undefined);
      next = readChunk(offset);
      next?.catch(() => undefined);
      for (let at = offset; at < size;) {
        const data = await next!;
        next = readChunk(at + data.byteLength);
        next?.catch(() => undefined);
        if (call.cancelled) return;
        if (signal.aborted) throw signal.reason;
        const last = at + data.byteLength === size;
        const ok = call.write({ offset: at, data, totalBytes: size, crc32: last ? model.crc32 : 0 });
        at += data.byteLength;
        sent += data.byteLength;
        // A peer that stops reading must not hold the call (and its slot) forever: cancellation
        // (or a missed deadline) also ends the wait.
        if (!ok) await drainOrCancel(call, signal);
      }
      if (signal.aborted) throw signal.reason;
      if (size === offset) call.write({ offset, data: new Uint8Array(0), totalBytes: offset, crc32: model.crc32 });
      state.bytesOut += sent;
      state.metrics?.sent(sent);
      log.debug({ party, round, phase: "download", bytes: sent, ms: Date.now() - started }, "model sent");
      call.end();
    } catch (error) {
      call.emit("error", fail("DownloadModel", party, error, call)); // grpc-js sends the status from its own "error" listener; destroy() would leave the call hanging
    } finally {
      bound?.done();
      release?.();
      // A read in flight finishes before the round's descriptor may be closed (and its number reused).
      await next?.catch(() => undefined);
      model?.release();
    }
  };

  const upload = async (call: grpc.ServerReadableStream<UploadMessage, UploadResponse>, callback: grpc.sendUnaryData<UploadResponse>) => {
    let party: string | undefined;
    let release: (() => void) | undefined;
    let bound: BoundedTransfer | undefined;
    let unhold: (() => void) | undefined;
    let receiveWindow: ReturnType<UploadWindows["open"]> | undefined;
    try {
      party = sessionParty(call);
      // Ends the upload early: its party joined again (a newer session), or missed the upload deadline.
      const cut = new AbortController();
      release = state.quota.acquire(party, "upload", { session: sessionOf(call), cancel: cancelWith(cut) });
      // Its receive buffers count against staging's memory budget from the start of the call (not
      // the header): uploads that start together then spill to disk instead of each finding room.
      receiveWindow = uploadWindows.open(call);
      unhold = state.staging.hold(receiveBufferBytes(state.chunkSize) + receiveWindow.extraBytes);
      state.uploadStarted?.(party);
      const manifest = state.store.manifest;
      if (!manifest) throw failedPrecondition("the federation has no model yet");
      const name = party;
      const started = Date.now();
      let admitted: number | undefined;
      const received = await receiveUpload(untilAborted(idleGuard(call, state.limits.uploadIdleMs), cut.signal), {
        manifest, chunkSize: state.chunkSize, staging: state.staging,
        encoding: state.updateEncoding, base: (round) => (state.store.get(round) ? (offset, length) => state.store.read(round, offset, length) : undefined),
        admit: (header) => {
          bound = state.admitUpload(name, header);
          admitted = header.round;
          const deadline = bound?.signal;
          if (deadline?.aborted) cut.abort(deadline.reason);
          deadline?.addEventListener("abort", () => cut.abort(deadline.reason), { once: true });
        },
      }).catch((error: unknown) => {
        if (admitted !== undefined) state.rejectUpload(name, admitted, error instanceof Error ? error.message : String(error));
        throw error;
      });
      unhold();
      state.bytesIn += received.bytes;
      state.metrics?.received(received.bytes);
      await state.acceptUpload(name, received);
      log.info({ party, round: received.header.round, phase: "upload", bytes: received.bytes, ms: Date.now() - started }, "update accepted");
      callback(null, { accepted: true, bytesReceived: received.bytes });
    } catch (error) {
      state.metrics?.updateRejected(rejectionReason(error));
      callback(fail("UploadUpdate", party, error, call));
    } finally {
      receiveWindow?.release();
      unhold?.();
      bound?.done();
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
      callback(fail("ReportEvaluation", party, error, call));
    }
  };

  const trainingFailure: Handler<TrainingFailure, TrainingFailureAck> = (call, callback) => {
    let party: string | undefined;
    try {
      party = sessionParty(call);
      if (!state.acceptTrainingFailure) throw failedPrecondition("this aggregator does not take training failure reports");
      state.acceptTrainingFailure(party, call.request);
      callback(null, {});
    } catch (error) {
      callback(fail("ReportTrainingFailure", party, error, call));
    }
  };

  // The key phases of a secure round (secure_aggregation.proto): each request goes to the round it names.
  const secureStep = <Req extends { round: number }>(rpc: string, step: (round: SecureRound, party: string, request: Req) => void): Handler<Req, SecureAggregationAck> => (call, callback) => {
    let party: string | undefined;
    try {
      party = sessionParty(call);
      const round = state.secureRound?.(call.request.round);
      if (!round) throw failedPrecondition(`round ${call.request.round} is not a secure round in progress (current round ${state.currentRound()})`);
      step(round, party, call.request);
      callback(null, {});
    } catch (error) {
      callback(fail(rpc, party, error, call));
    }
  };

  return {
    Join: join, Instructions: instructions, DownloadModel: download, UploadUpdate: upload, ReportEvaluation: report,
    ReportTrainingFailure: trainingFailure,
    AdvertiseKeys: secureStep<AdvertiseKeysRequest>("AdvertiseKeys", (round, party, request) => round.advertise(party, request)),
    ShareKeys: secureStep<ShareKeysRequest>("ShareKeys", (round, party, request) => round.share(party, request)),
    Unmask: secureStep<UnmaskRequest>("Unmask", (round, party, request) => round.reveal(party, request)),
  } as unknown as grpc.UntypedServiceImplementation;
}

/** Waits until a server stream can take more, the peer went away or `signal` aborts; removes the listeners after. */
function drainOrCancel(call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    call.once("cancelled", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
