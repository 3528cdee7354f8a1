import type { MaskedSum } from "@cohort/secagg";
import type { RoundAccumulator } from "./round-accumulator.js";
import { SecureRound, type SecureRoundHost } from "./secure-round.js";
import { trainInstruction } from "./train-instruction.js";
import type { RoundParts, TrainingPhase } from "./training-phase.js";

/** What the secure-aggregation driver needs from the aggregator. */
export interface SecureDriverContext extends RoundParts {
  accumulator: RoundAccumulator;
}

/**
 * Drives secure aggregation around a round: its key exchange before training and its unmasking
 * after, and which secure round the gRPC handlers' key RPCs belong to. It exists so that the
 * Aggregator's run loop calls two steps and keeps no secure-aggregation state of its own; the
 * protocol's per-round work is SecureRound's (secure-round.ts).
 */
export class SecureRoundDriver {
  /** Secure aggregation's modular sum of masked updates, reused from round to round. */
  private maskedSum: MaskedSum | undefined;
  /** The latest secure round, from its key exchange on (its RPCs name their round). */
  private keyExchange: SecureRound | undefined;

  constructor(private readonly context: SecureDriverContext) {}

  /** The secure round `round`, while it is the latest (the gRPC handlers' key phases). */
  secureRound(round: number): SecureRound | undefined {
    return this.keyExchange?.round === round ? this.keyExchange : undefined;
  }

  /** `party` disconnected: the key exchange in progress stops waiting for it. */
  drop(party: string): void {
    this.keyExchange?.drop(party);
  }

  /**
   * A secure round's key exchange, before its training: the train instruction with the round's
   * parameters, then the advertise and share phases. Returns the parties that dealt shares, or
   * why the round fails.
   */
  async exchangeKeys(round: number, participants: string[]): Promise<{ secure: SecureRound; participants: string[] } | { failed: string }> {
    const { settings, registry, store, log } = this.context;
    const declared = participants.reduce((total, party) => total + (registry.get(party)?.numTrainExamples ?? 0), 0);
    // Strategies that weigh parties equally (IterAvg, DP-FedAvg) have each party pre-scale by 1 / n.
    const strategy = this.context.strategy;
    const equalWeights = strategy.weightOf({ numExamples: 1 }) === strategy.weightOf({ numExamples: 2 });
    const secure = SecureRound.start(settings.secureAggregation!, round, participants, declared, store.manifest!, this.maskedSum, equalWeights);
    let outcome: { failed: string } | { sharers: string[] };
    if ("failed" in secure) {
      outcome = secure;
    } else {
      this.maskedSum = secure.sum;
      this.keyExchange = secure;
      outcome = await secure.exchangeKeys(this.secureHost(), trainInstruction(settings, this.context.strategy, round, participants.length, secure));
    }
    if ("failed" in outcome) {
      log.error({ round, phase: "secagg", reason: outcome.failed }, `round ${round} failed: ${outcome.failed}`);
      return outcome;
    }
    return { secure: secure as SecureRound, participants: outcome.sharers };
  }

  /** What a secure round needs from the aggregator: instructions, the key phases' deadline, the stop signal. */
  secureHost(): SecureRoundHost {
    const { log, settings, abort, registry } = this.context;
    return { log, deadlineMs: settings.maxTimeoutMs, abort, send: (party, instruction) => registry.send(party, instruction) };
  }

  /**
   * Unmasks a secure round's sum into the round's float64 sum (as the mean's one update), so
   * that the strategy (FedAvg, a server optimizer) fuses it as it fuses a plain round. Returns
   * why the round fails, if it does.
   */
  async unmaskSecureRound(phase: TrainingPhase, report: Record<string, unknown>): Promise<string | undefined> {
    const { log, store, accumulator } = this.context;
    const secure = phase.secure!;
    const outcome = await secure.unmask(this.secureHost());
    report.secure_aggregation = {
      survivors: outcome.survivors.length, dropped: outcome.dropped, key_bytes_in: secure.keyBytes.in, key_bytes_out: secure.keyBytes.out,
      ...(outcome.warnings.length ? { warnings: outcome.warnings } : {}),
    };
    for (const warning of outcome.warnings) log.warn({ round: phase.round, phase: "secagg-unmask", reason: warning }, warning);
    if (outcome.failed) {
      log.error({ round: phase.round, phase: "secagg-unmask", reason: outcome.failed }, `round ${phase.round} failed: ${outcome.failed}`);
      return outcome.failed;
    }
    const model = secure.unmaskedModel(store.manifest!, store.previousOf(phase.round));
    const sum = accumulator.roundSum();
    phase.sum = sum;
    await sum.fold(model, 1);
    log.info({ round: phase.round, phase: "secagg-unmask", survivors: outcome.survivors.length, dropped: outcome.dropped }, "secure round: sum unmasked");
    return undefined;
  }
}
