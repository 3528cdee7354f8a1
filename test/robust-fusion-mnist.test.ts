import { afterEach, describe, expect, it } from "vitest";
import type { FusionName, FusionSettings } from "@cohort/fusion";
import { createMnistCnn, getWeights, modelManifest, selectBackend } from "@cohort/models";
import { packWeights } from "@cohort/tensors";
import { partyList, runParties, startAggregator } from "./helpers/federation.js";
import { mnistLearners } from "./helpers/mnist-learners.js";
import { PoisoningLearner } from "./helpers/poisoning-learner.js";

/**
 * Five parties on shards of the embedded MNIST digits; in the attacked runs party4 sends
 * global - 10 * (its update), a sign-flipped and scaled update. Every run starts from the same
 * seeded initial model and every party shuffles its epochs from a seed, so each run is the same
 * computation every time: the 2-point bar cannot be missed or met by chance.
 * Sizes come from the environment so the README's other setups can be rerun:
 * ROBUST_MNIST_EXAMPLES (per party, default 1700: the whole training split of 5 parties),
 * ROBUST_MNIST_ROUNDS (default 4), ROBUST_MNIST_EPOCHS (local epochs a round, default 1),
 * ROBUST_MNIST_LR (Adam, default 0.01), ROBUST_MNIST_SEED (default 1).
 */
const EXAMPLES = Number(process.env.ROBUST_MNIST_EXAMPLES ?? 1700);
const ROUNDS = Number(process.env.ROBUST_MNIST_ROUNDS ?? 4);
const EPOCHS = Number(process.env.ROBUST_MNIST_EPOCHS ?? 1);
const LR = Number(process.env.ROBUST_MNIST_LR ?? 0.01);
const SEED = Number(process.env.ROBUST_MNIST_SEED ?? 1);
const ATTACK_FACTOR = -10;
/** How far under the clean run plain Krum may end (the issue's bar, 0.02, is met by the other strategies). */
const KRUM_MARGIN = 0.035;

const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** One initial model for every run (made on first use), so runs differ only by fusion and attack. */
let INITIAL: { manifest: ReturnType<typeof modelManifest>; bytes: Uint8Array; topology: string } | undefined;

/** The held-out accuracy after each round. */
async function federation(algorithm: FusionName, params: Omit<FusionSettings, "name">, attacked: boolean): Promise<number[]> {
  const { aggregator, port, outputDir } = await startAggregator({
    algorithm, fusionParams: params, rounds: ROUNDS, numParties: 5, parties: partyList(5), maxTimeoutMs: 300_000,
    local: { epochs: EPOCHS, batchSize: 32, validationSplit: 0, lr: LR },
  }, { initialModel: INITIAL! });
  cleanup.push(() => aggregator.forceClose());
  const learners = await mnistLearners(5, EXAMPLES, { seed: SEED });
  const parties = attacked ? learners.map((l, i) => (i === 4 ? new PoisoningLearner(l, ATTACK_FACTOR) : l)) : learners;
  const { lines } = await runParties(aggregator, port, outputDir, parties, cleanup);
  const accuracies = lines.map((l) => l.eval.accuracy);
  const chosen = algorithm === "krum" ? ` (chose ${lines.map((l) => (l.fusion?.krum_selected as string[] | undefined)?.join("+")).join(", ")})` : "";
  console.log(`robust-fusion-mnist: ${algorithm}${attacked ? ` with party4 sending ${ATTACK_FACTOR} x its update` : " clean"}: accuracy by round ${accuracies.map((a) => a.toFixed(4)).join(" ")}${chosen}`);
  return accuracies;
}

describe("robust fusion on real MNIST digits: 5 parties, one sends sign-flipped scaled updates", () => {
  it("FedAvg collapses under the attack; median and trimmed mean stay within 2 points of the clean run; plain Krum within 2 of its own clean run and 3.5 of FedAvg's", async () => {
    await selectBackend("auto");
    const model = createMnistCnn({ seed: SEED });
    INITIAL = { manifest: modelManifest(model), bytes: packWeights(getWeights(model)), topology: JSON.stringify(model.toJSON(undefined, false)) };
    const clean = (await federation("fedavg", {}, false)).at(-1)!;
    const fedavg = (await federation("fedavg", {}, true)).at(-1)!;
    const median = (await federation("coordinate-median", {}, true)).at(-1)!;
    const trimmed = (await federation("trimmed-mean", { beta: 0.2 }, true)).at(-1)!;
    // Plain Krum: each round's global model is the one update Krum chose (f = 1), not a mean.
    const krum = (await federation("krum", { byzantine: 1 }, true)).at(-1)!;
    const krumClean = (await federation("krum", { byzantine: 1 }, false)).at(-1)!;
    expect(clean).toBeGreaterThan(0.9);
    expect(fedavg).toBeLessThan(0.3);
    for (const [name, accuracy] of [["median", median], ["trimmed mean", trimmed]] as const) {
      expect(accuracy, `${name} ${accuracy} vs clean ${clean}`).toBeGreaterThanOrEqual(clean - 0.02);
    }
    // Plain Krum resists the attack but its model is one party's: over seeds 1-3 and rounds 3-5 of
    // this setup it trailed the clean run by 0.9-3.1 points, within 2 in 5 of 9 (README, fusion
    // section). 2 points is met by this seed only, so that is not what is asserted: 3.5 points is.
    expect(krum, `krum ${krum} vs clean ${clean}`).toBeGreaterThanOrEqual(clean - KRUM_MARGIN);
    // What the attack itself costs Krum: within the issue's 2 points of the same strategy unattacked.
    expect(krum, `krum attacked ${krum} vs krum clean ${krumClean}`).toBeGreaterThanOrEqual(krumClean - 0.02);
  }, 900_000);
});
