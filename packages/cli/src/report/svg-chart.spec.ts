import { describe, expect, it } from "vitest";
import { escapeXml, lineChart, niceTicks, stackedBarChart } from "./svg-chart.js";

describe("svg charts", () => {
  it("picks round tick values", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.87, 0.97)).toEqual([0.86, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98]);
    expect(niceTicks(0, 4.6)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });

  it("draws a line per series with a dot and hover title per point, in the plot area", () => {
    const svg = lineChart([{ name: "a", points: [[1, 0.5], [2, 0.7], [3, 0.9]] }], { title: "T" });
    const d = /<path d="([^"]+)"/.exec(svg)![1];
    const coords = [...d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(coords).toHaveLength(3);
    expect(coords[0][0]).toBeLessThan(coords[2][0]);
    expect(coords[0][1]).toBeGreaterThan(coords[2][1]);
    for (const [x, y] of coords) {
      expect(x).toBeGreaterThan(60);
      expect(x).toBeLessThan(560);
      expect(y).toBeGreaterThan(40);
      expect(y).toBeLessThan(280);
    }
    expect((svg.match(/<circle /g) ?? []).length).toBe(3);
  });

  it("says no data instead of drawing empty axes", () => {
    expect(lineChart([{ name: "a", points: [] }], { title: "T" })).toContain(">no data<");
    expect(stackedBarChart([], [], { title: "T" })).toContain(">no data<");
  });

  it("stacks bars: the top of the last segment is the total", () => {
    const svg = stackedBarChart([1], [{ name: "x", values: [2] }, { name: "y", values: [3] }], { title: "T", zeroBased: true });
    const rects = [...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    // Two bar segments (the legend's swatches are 10x10 and come after).
    expect(rects[0][1] / rects[1][1]).toBeCloseTo(2 / 3, 1);
    expect(rects[1][0] + rects[1][1]).toBeCloseTo(rects[0][0], 0);
  });

  it("escapes text", () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});
