// Capped exponential backoff with jitter, as the y-websocket and Hocuspocus providers do.

export interface BackoffOptions {
  /** First delay after a failure. */
  initialMs: number;
  /** No delay grows beyond this. */
  maxMs: number;
  factor: number;
  /** 0..1: the share of each delay that is randomised ("equal jitter" at 0.5). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

export class Backoff {
  attempt = 0;
  constructor(
    readonly opts: BackoffOptions = DEFAULT_BACKOFF,
    private random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const { initialMs, maxMs, factor, jitter } = this.opts;
    const base = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt += 1;
    return Math.round(base * (1 - jitter) + base * jitter * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }
}
