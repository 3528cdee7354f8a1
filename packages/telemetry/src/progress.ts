/** What a progress line needs of its terminal: Node's tty.WriteStream has all of it. */
export interface ProgressTarget {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressLineOptions {
  /** Draw at all; defaults to "the target is a terminal and NO_PROGRESS/CI are unset". */
  enabled?: boolean;
  /** Redraws closer together than this are skipped (a fast loop must not flood the terminal). */
  minIntervalMs?: number;
}

/** Carriage return + "erase line": the next text replaces the line in place. */
const ERASE = "\r\x1b[2K";

/**
 * One self-rewriting status line at the bottom of a terminal (a party's local epochs, the
 * demo's rounds). When the target is not a terminal it draws nothing, so piped output and log
 * files keep plain lines only. Log lines written through `interleave` clear the status line
 * first and redraw it after, so the two never garble each other.
 */
export class ProgressLine {
  readonly enabled: boolean;
  private text = "";
  private shown = false;
  private lastDraw = 0;
  private readonly minIntervalMs: number;

  constructor(private readonly target: ProgressTarget, options: ProgressLineOptions = {}) {
    this.enabled = options.enabled ?? (target.isTTY === true && !process.env.CI && !process.env.NO_PROGRESS);
    this.minIntervalMs = options.minIntervalMs ?? 100;
  }

  /** Replace the status text; drawn now unless the last draw was under minIntervalMs ago. */
  update(text: string, force = false): void {
    if (!this.enabled) return;
    this.text = text;
    const now = Date.now();
    if (!force && this.shown && now - this.lastDraw < this.minIntervalMs) return;
    this.draw();
    this.lastDraw = now;
  }

  /** Remove the status line (before a normal line is printed, or when the work is done). */
  clear(): void {
    if (!this.enabled || !this.shown) return;
    this.target.write(ERASE);
    this.shown = false;
  }

  /** Remove it and forget its text: nothing is redrawn after the next log line. */
  end(): void {
    this.clear();
    this.text = "";
  }

  /** Print a whole line above the status line, which is then redrawn. */
  print(line: string): void {
    this.clear();
    this.target.write(`${line}\n`);
    this.redraw();
  }

  /** A stream for a logger: each write clears the status line, writes, then redraws it. */
  interleave<T extends { write(chunk: string): unknown }>(destination: T): { write(chunk: string): unknown } {
    if (!this.enabled) return destination;
    return {
      write: (chunk: string) => {
        this.clear();
        const result = destination.write(chunk);
        this.redraw();
        return result;
      },
    };
  }

  private redraw(): void {
    if (this.text) this.draw();
  }

  private draw(): void {
    const width = Math.max(20, (this.target.columns || 80) - 1);
    const text = this.text.length > width ? `${this.text.slice(0, width - 1)}…` : this.text;
    this.target.write(`${ERASE}${text}`);
    this.shown = true;
  }
}

/** A text bar of `width` cells for a fraction in [0, 1], e.g. "[#####.....]". */
export function progressBar(fraction: number, width = 20): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}
