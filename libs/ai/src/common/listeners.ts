import { Logger } from '@nestjs/common';

/** The listeners of one kind of event. A failing listener is logged and never fails the feature that announced. */
export class Listeners<T> {
  private readonly listeners = new Set<(event: T) => void>();

  /** @param logger says which feature's listener failed */
  constructor(private readonly logger: Logger) {}

  /** Returns the function that stops listening. */
  add(listener: (event: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: T): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error(`a listener failed: ${(error as Error).message}`);
      }
    }
  }
}
