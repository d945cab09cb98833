/**
 * The one progress line of a long-running tool, on stderr so that stdout stays the report:
 * rewritten in place on a terminal, one line per step otherwise (CI logs, pipes).
 */
export class Progress {
  private readonly began = Date.now();
  private shown = false;

  /**
   * @param label what prefixes each line: `[label] …`, or `[label  12 s] …` with `clock`
   * @param clock show the seconds since the tool started (long runs: the benchmarks)
   */
  constructor(
    private readonly label: string,
    private readonly opts: { clock?: boolean; out?: NodeJS.WriteStream } = {},
  ) {}

  private get out(): NodeJS.WriteStream {
    return this.opts.out ?? process.stderr;
  }

  private prefix(): string {
    if (!this.opts.clock) return `[${this.label}]`;
    const seconds = ((Date.now() - this.began) / 1000).toFixed(0).padStart(3);
    return `[${this.label} ${seconds} s]`;
  }

  /** The step now running; replaces the previous one on a terminal. */
  update(step: string): void {
    const text = `${this.prefix()} ${step}`;
    if (this.out.isTTY) {
      const width = this.out.columns || 100;
      this.out.write(`\r\x1b[K${text.length >= width ? `${text.slice(0, width - 2)}…` : text}`);
      this.shown = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** A line that stays (a result, a warning). */
  note(line: string): void {
    this.clear();
    this.out.write(`${this.prefix()} ${line}\n`);
  }

  /** Removes the step line, before the report or an error is written. */
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}
