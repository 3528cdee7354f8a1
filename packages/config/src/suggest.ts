/**
 * "Did you mean" for unknown keys. A typo'd key is an error (not silently ignored, which is how
 * a misspelt `rouns: 50` used to run 3 rounds), so the message should point at the fix.
 */

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** camelCase, kebab-case and case differences are the same key to a human: batchSize = batch_size. */
function canonical(key: string): string {
  return key.toLowerCase().replace(/[_\-\s]/g, "");
}

/** Words people bring from other tools that edit distance cannot relate to our keys. */
const SYNONYMS: Readonly<Record<string, string>> = {
  host: "ip",
  address: "ip",
  learning_rate: "lr",
  num_rounds: "rounds",
  epochs_per_round: "epochs",
};

/** The known key the unknown one most likely meant, or undefined when nothing is close. */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const wanted = canonical(unknown);
  const exact = known.find((key) => canonical(key) === wanted);
  if (exact !== undefined) return exact;
  const synonym = SYNONYMS[unknown] ?? SYNONYMS[unknown.toLowerCase()];
  if (synonym !== undefined && known.includes(synonym)) return synonym;
  // Allow roughly one edit per three characters: "rouns" -> "rounds", but "ip" never -> "id".
  const budget = Math.max(1, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const key of known) {
    const distance = editDistance(wanted, canonical(key));
    if (distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  return bestDistance <= budget ? best : undefined;
}
