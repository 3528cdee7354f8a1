import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { renderReport, reportCharts } from "../report/report-html.js";
import { readRunData } from "../report/run-data.js";

export interface ReportOptions {
  /** Where report.html goes (default RUN_DIR/report.html). */
  out?: string;
  /** Also write each chart as an .svg file next to the report. */
  svg?: boolean;
  print?: (line: string) => void;
}

/** `cohort report RUN_DIR`: a self-contained HTML report of a run (inline SVG charts, no scripts). */
export async function runReportCommand(runDir: string, options: ReportOptions = {}): Promise<number> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const data = await readRunData(resolve(runDir));
  const out = resolve(options.out ?? join(runDir, "report.html"));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, renderReport(data));
  print(`report of ${data.rounds.length} round(s): ${out}`);
  if (options.svg) {
    for (const [name, svg] of Object.entries(reportCharts(data))) {
      const file = join(dirname(out), `${name}.svg`);
      await writeFile(file, `<?xml version="1.0" encoding="UTF-8"?>\n${svg}\n`);
      print(`chart: ${file}`);
    }
  }
  return 0;
}
