// How often a crashed daemon is restarted: at most `maxRestarts` crashes within
// `windowMs` are restarted; the next one within that window is not. Pure, with an
// injectable clock, so the unit tests can play out minutes in microseconds.

export interface CrashDecision {
  /** Whether to start the daemon again. */
  readonly restart: boolean;
  /** Crashes within the window, this one included. */
  readonly crashes: number;
}

export class RestartPolicy {
  private crashTimes: number[] = [];

  constructor(
    readonly maxRestarts = 4,
    readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a crash now and says whether to restart. */
  recordCrash(): CrashDecision {
    const now = this.now();
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.windowMs);
    this.crashTimes.push(now);
    const crashes = this.crashTimes.length;
    return { restart: crashes <= this.maxRestarts, crashes };
  }

  /** Forgets every crash (the user asked for a restart). */
  reset(): void {
    this.crashTimes = [];
  }

  /** "3 minutes", for messages. */
  get windowText(): string {
    const minutes = this.windowMs / 60_000;
    return Number.isInteger(minutes) ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${Math.round(this.windowMs / 1000)} seconds`;
  }
}
