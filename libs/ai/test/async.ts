/** Jest's modern fake timers, Date included (so the system clock follows them); ticks and microtasks stay real. */
export function useFakeTime(): void {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
}

export interface Tracked<T> {
  readonly settled: boolean;
  readonly value?: T;
  readonly error?: unknown;
  /** Resolves with the error once the promise rejects; fails the test if it resolved. */
  rejection(): Promise<unknown>;
}

/** Observes a promise without awaiting it, so a test can move fake time and look at it in between. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  const done = promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return {
    get settled() {
      return state.settled;
    },
    get value() {
      return state.value;
    },
    get error() {
      return state.error;
    },
    async rejection() {
      await done;
      if (!('error' in state)) throw new Error(`Expected a rejection, got ${JSON.stringify(state.value)}.`);
      return state.error;
    },
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/**
 * Polls until `check` stops throwing (or, when async, rejecting), for effects that land a little
 * later (a watch event, a socket the client dropped, a job a worker runs).
 */
export async function eventually(check: () => unknown, timeoutMs = 3_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      return void (await check());
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
