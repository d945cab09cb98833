/**
 * The progress line on stderr: rewritten in place on a terminal, one line per step
 * otherwise (CI logs, pipes), so stdout stays the report alone.
 */
export class Progress {
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(line: string): void {
    const text = `[experiment] ${line}`;
    if (this.out.isTTY) {
      const width = this.out.columns || 100;
      this.out.write(`\r\x1b[K${text.length >= width ? `${text.slice(0, width - 2)}…` : text}`);
      this.shown = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** A line that stays (cycle results, warnings). */
  note(line: string): void {
    this.clear();
    this.out.write(`[experiment] ${line}\n`);
  }

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}
