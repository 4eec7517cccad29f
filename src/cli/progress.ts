/**
 * Progress of the long stages on a terminal (stderr): entries read with their rate, Moodle rows read, changes
 * written out of the total with an ETA. cli-progress draws the bars; this file only turns run events into bar
 * values. CLI-only: it is about a terminal, and the command decides whether there is one (base-command.ts).
 */
import type { SingleBar } from 'cli-progress';
import { MultiBar } from 'cli-progress';
import type { RunEvent, RunObserver, Stage } from '../index.js';
import { formatCount } from '../index.js';

type Shown = 'source' | 'moodle' | 'writing';
const isShown = (stage: Stage): stage is Shown => stage === 'source' || stage === 'moodle' || stage === 'writing';

const FORMATS: Readonly<Record<Shown, string>> = {
  source: 'Reading the directory  {count} entries  {rate}/s',
  moodle: 'Reading Moodle         {count} rows',
  writing: 'Writing to Moodle      [{bar}] {count}/{all} changes  ETA {eta_formatted}',
};

/** The longest a bar waits for a redraw while the pipeline keeps the event loop busy (its timer cannot fire). */
const REDRAW_EVERY_MS = 200;

interface Line {
  readonly bar: SingleBar;
  readonly started: number;
  value: number;
}

export class TerminalProgress implements RunObserver {
  private bars: MultiBar | null = null;
  private readonly lines = new Map<Shown, Line>();
  /** The line shown before the first stage (begin). */
  private opening: SingleBar | null = null;
  /** The shown stages not ended yet. */
  private readonly running = new Set<Shown>();
  private lastDraw = 0;
  /** Entries of the searches ended so far, and before the current directory read. */
  private searched = 0;
  private searchedBefore = 0;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  emit(event: RunEvent): void {
    switch (event.type) {
      case 'stage-start':
        // A source counts its entries over its life (the demo plans twice from one): this read's start from here.
        if (event.stage === 'source') this.searchedBefore = this.searched;
        if (isShown(event.stage)) this.start(event.stage, event.total ?? 0);
        return;
      case 'progress':
        if (event.stage === 'source') this.set('source', event.done - this.searchedBefore);
        if (event.stage === 'writing') this.set('writing', event.done);
        return;
      case 'search': {
        // The last entries of a search come after its last progress event (sent every few hundred entries).
        this.searched += event.entries;
        const line = this.lines.get('source');
        if (line !== undefined) this.set('source', Math.max(line.value, this.searched - this.searchedBefore));
        return;
      }
      case 'sql': {
        const line = this.lines.get('moodle');
        if (line !== undefined && event.kind === 'select') this.set('moodle', line.value + event.rows);
        return;
      }
      case 'stage-end':
        // Once no long stage runs (both reads done, or the writing), the bars go: planning, the state and the
        // postApply commands do not run under a finished bar.
        if (isShown(event.stage) && this.running.has(event.stage)) {
          this.running.delete(event.stage);
          if (this.running.size === 0) this.stop();
        }
        return;
    }
  }

  /** A log line while the bars show: above them, the bars drawn again below. */
  print(text: string): void {
    if (this.bars === null) {
      this.stream.write(text);
      return;
    }
    this.bars.log(text);
    this.draw(true);
  }

  /** Clears the bars (before the plan prints, before a question, at the end of the run). */
  stop(): void {
    if (this.bars === null) return;
    this.bars.stop();
    this.bars = null;
    this.lines.clear();
    this.running.clear();
    this.opening = null;
  }

  /**
   * A first line as soon as the command starts, before any stage: reading the spec and opening the directory
   * and Moodle take seconds on a big site (a large LDIF file is parsed whole), and the terminal must not stay
   * blank meanwhile. The first stage replaces it.
   */
  begin(text: string): void {
    this.bars ??= this.newBars();
    this.opening = this.bars.create(0, 0, {}, { format: text });
    this.draw(true);
  }

  private newBars(): MultiBar {
    return new MultiBar(
      {
        stream: this.stream,
        clearOnComplete: true,
        // The cursor stays: a run interrupted (Ctrl-C) must not leave the terminal without one.
        hideCursor: false,
        // A terminal only: the command never builds this object otherwise, and a pipe must get nothing.
        noTTYOutput: false,
        barsize: 30,
        etaBuffer: 5,
        // Ctrl-C keeps its usual effect: no signal handler of the library's.
        gracefulExit: false,
      },
      { format: '', barCompleteChar: '#', barIncompleteChar: '.' },
    );
  }

  private start(stage: Shown, total: number): void {
    if (this.opening !== null) this.stop();
    this.bars ??= this.newBars();
    const bar = this.bars.create(total, 0, this.payload(0, total, performance.now()), { format: FORMATS[stage] });
    this.lines.set(stage, { bar, started: performance.now(), value: 0 });
    this.running.add(stage);
    this.draw(true);
  }

  private set(stage: Shown, value: number): void {
    const line = this.lines.get(stage);
    if (line === undefined) return;
    line.value = value;
    line.bar.update(value, this.payload(value, line.bar.getTotal(), line.started));
    this.draw();
  }

  private payload(value: number, total: number, started: number): Record<string, string> {
    const seconds = (performance.now() - started) / 1000;
    return {
      count: formatCount(value),
      all: formatCount(total),
      rate: seconds > 0 ? formatCount(value / seconds) : '0',
    };
  }

  /** Draws now when the last drawing is old: the first bar appears at once, not after the first timer tick. */
  private draw(now = false): void {
    if (this.bars === null) return;
    const at = performance.now();
    if (!now && at - this.lastDraw < REDRAW_EVERY_MS) return;
    this.lastDraw = at;
    this.bars.update();
  }
}
