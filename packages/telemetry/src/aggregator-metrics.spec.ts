import { describe, expect, it } from "vitest";
import { AggregatorMetrics } from "./aggregator-metrics.js";

/** The value of one sample of the exposition text, e.g. value(text, 'cohort_x{phase="train"}'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe("AggregatorMetrics", () => {
  it("starts at zero, in phase starting, with every series present", async () => {
    const text = await new AggregatorMetrics().text();
    expect(value(text, "cohort_aggregator_rounds_completed_total")).toBe(0);
    expect(value(text, "cohort_aggregator_current_round")).toBe(0);
    expect(value(text, 'cohort_aggregator_phase{phase="starting"}')).toBe(1);
    expect(value(text, 'cohort_aggregator_phase{phase="train"}')).toBe(0);
  });

  it("follows a round: phase, bytes, timings as histograms, evaluation, contributors", async () => {
    const m = new AggregatorMetrics();
    m.partiesConnected(3);
    m.roundStarted(1);
    m.received(1000);
    m.sent(400);
    m.setPhase("fuse");
    m.roundCompleted({ parties: ["a", "b"], eval: { accuracy: 0.91, loss: 0.3 }, ms: { train: 1500, fuse: 4, round: 2000 } });
    m.updateRejected("checksum_mismatch");
    m.updateRejected("checksum_mismatch");
    const text = await m.text();
    expect(value(text, "cohort_aggregator_rounds_completed_total")).toBe(1);
    expect(value(text, "cohort_aggregator_current_round")).toBe(1);
    expect(value(text, 'cohort_aggregator_phase{phase="fuse"}')).toBe(1);
    expect(value(text, 'cohort_aggregator_phase{phase="train"}')).toBe(0);
    expect(value(text, "cohort_aggregator_parties_connected")).toBe(3);
    expect(value(text, "cohort_aggregator_parties_contributing")).toBe(2);
    expect(value(text, "cohort_aggregator_received_bytes_total")).toBe(1000);
    expect(value(text, "cohort_aggregator_sent_bytes_total")).toBe(400);
    expect(value(text, 'cohort_aggregator_global_metric{metric="accuracy"}')).toBe(0.91);
    expect(value(text, 'cohort_aggregator_phase_duration_seconds_sum{phase="train"}')).toBe(1.5);
    expect(value(text, 'cohort_aggregator_phase_duration_seconds_bucket{le="2.5",phase="train"}')).toBe(1);
    expect(value(text, 'cohort_aggregator_phase_duration_seconds_bucket{le="1",phase="train"}')).toBe(0);
    expect(value(text, 'cohort_aggregator_rejected_updates_total{reason="checksum_mismatch"}')).toBe(2);
  });

  it("keeps instances apart (each has its own registry)", async () => {
    const a = new AggregatorMetrics();
    const b = new AggregatorMetrics({ processMetrics: true });
    a.received(5);
    expect(value(await b.text(), "cohort_aggregator_received_bytes_total")).toBe(0);
    expect(await b.text()).toMatch(/process_cpu_user_seconds_total/);
    expect(await a.text()).not.toMatch(/process_cpu_user_seconds_total/);
  });
});
