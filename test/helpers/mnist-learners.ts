import { loadDataset } from "@cohort/data";
import { createMnistCnn, selectBackend } from "@cohort/models";
import { TfjsLearner } from "@cohort/party";

/**
 * TF.js learners on disjoint shards of the embedded MNIST digits, one per party. With `seed`,
 * party i shuffles its epochs from seed + i (the split is seeded already: the handler's seed 0).
 */
export async function mnistLearners(count: number, maxExamples: number, options: { seed?: number } = {}): Promise<TfjsLearner[]> {
  const backend = await selectBackend("auto");
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const dataset = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: count, max_examples: maxExamples } }, { baseDir: process.cwd() });
    const seed = options.seed === undefined ? undefined : options.seed + i;
    return new TfjsLearner(createMnistCnn(), dataset, backend.name, `party${i}`, undefined, { seed });
  }));
}
