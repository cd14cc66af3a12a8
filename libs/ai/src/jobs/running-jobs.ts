import { Injectable } from '@nestjs/common';

/** Why a running job's call was aborted. */
export type Interruption = 'cancelled' | 'shutdown' | 'lease_lost';

export class JobInterruptedError extends Error {
  constructor(readonly interruption: Interruption) {
    super(`The job was interrupted: ${interruption}.`);
    this.name = 'JobInterruptedError';
  }
}

const DEFAULT_RUN_MS = 2_000;
const SMOOTHING = 0.2;

/** The jobs this process is running, so that a cancellation or a shutdown can stop them, and how long a run takes. */
@Injectable()
export class RunningJobs {
  /** By job id: the run's abort controller and the lease token it runs under. */
  private readonly running = new Map<string, { controller: AbortController; leaseToken: string }>();
  private averageMs = DEFAULT_RUN_MS;

  start(jobId: string, leaseToken: string): AbortSignal {
    const controller = new AbortController();
    this.running.set(jobId, { controller, leaseToken });
    return controller.signal;
  }

  end(jobId: string, durationMs: number): void {
    this.running.delete(jobId);
    this.averageMs += SMOOTHING * (durationMs - this.averageMs);
  }

  /** With `leaseToken`, only the run holding that lease is interrupted. */
  interrupt(jobId: string, interruption: Interruption, leaseToken?: string): void {
    const run = this.running.get(jobId);
    if (run && (leaseToken === undefined || run.leaseToken === leaseToken)) run.controller.abort(new JobInterruptedError(interruption));
  }

  interruptAll(interruption: Interruption): void {
    for (const jobId of this.running.keys()) this.interrupt(jobId, interruption);
  }

  /** An exponentially weighted average of recent run times, for the wait a submit is told to expect. */
  get averageRunMs(): number {
    return this.averageMs;
  }
}
