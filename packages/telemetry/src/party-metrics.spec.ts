import { describe, expect, it } from "vitest";
import { PartyMetrics } from "./party-metrics.js";

function value(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe("PartyMetrics", () => {
  it("counts trained rounds (not the initial weights), bytes, training time and metrics", async () => {
    const m = new PartyMetrics();
    m.setJoined(true);
    m.uploaded(100, 0);
    m.downloaded(100);
    m.setBackend("wasm");
    m.setBackend("tensorflow");
    m.trained(2, { loss: 0.5, accuracy: 0.8, bogus: Number.NaN }, 937.5);
    m.uploaded(100, 1);
    m.evaluated({ accuracy: 0.85 });
    m.updateRefused();
    const text = await m.text();
    expect(value(text, "cohort_party_joined")).toBe(1);
    expect(value(text, "cohort_party_rounds_trained_total")).toBe(1);
    expect(value(text, "cohort_party_uploaded_bytes_total")).toBe(200);
    expect(value(text, "cohort_party_downloaded_bytes_total")).toBe(100);
    expect(value(text, "cohort_party_train_duration_seconds_count")).toBe(1);
    expect(value(text, 'cohort_party_local_metric{metric="loss"}')).toBe(0.5);
    expect(text).not.toMatch(/metric="bogus"/);
    expect(value(text, 'cohort_party_eval_metric{metric="accuracy"}')).toBe(0.85);
    expect(value(text, "cohort_party_refused_updates_total")).toBe(1);
    expect(value(text, 'cohort_party_backend_info{backend="tensorflow"}')).toBe(1);
    expect(text).not.toMatch(/backend="wasm"/);
    expect(value(text, "cohort_party_training_samples_per_second")).toBe(937.5);
  });
});
