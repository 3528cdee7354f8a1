import type { FusionStrategy } from "@cohort/fusion";
import type { Instruction } from "@cohort/wire";
import type { SecureRound } from "./secure-round.js";
import type { AggregatorSettings } from "./settings.js";

/**
 * The round's train instruction; a secure round's carries its parameters (the party advertises
 * keys first). Its own module because a plain round sends it at its start and a secure round
 * with its key exchange (secure-round-driver.ts).
 */
export function trainInstruction(settings: AggregatorSettings, strategy: FusionStrategy, round: number, participants: number, secure?: SecureRound): Instruction {
  const s = settings;
  // Distributed DP's share of the noise depends on how many parties the round has.
  const { proximalMu, privacy: share } = strategy.configureTrain(round, participants);
  return {
    kind: "train",
    train: {
      round,
      hyperparams: {
        epochs: s.local.epochs, batchSize: s.local.batchSize, stepsPerEpoch: s.local.stepsPerEpoch ?? 0, validationSplit: s.local.validationSplit, learningRate: s.local.lr ?? 0, proximalMu,
        ...(share ? { dpClipNorm: share.clipNorm, dpNoiseStddev: share.noiseStddev } : {}),
      },
      ...(secure ? { secureAggregation: secure.trainParams } : {}),
    },
  };
}
