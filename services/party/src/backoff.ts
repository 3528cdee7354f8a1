export interface BackoffSettings {
  initialDelayMs: number;
  maxDelayMs: number;
  /** 0 = retry forever. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 0 };

/**
 * Exponential backoff with full jitter: the delay before attempt n is uniform in
 * [0, min(max, initial * 2^n)], so parties that lost the aggregator together do not all
 * reconnect in the same instant.
 */
export function backoffDelay(attempt: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.initialDelayMs * 2 ** Math.min(attempt, 30));
  return Math.max(settings.initialDelayMs / 4, random() * ceiling);
}
