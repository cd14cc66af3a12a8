import { Inject } from '@nestjs/common';

/** The time source of the library, injected so that tests can control it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const Clock = Symbol('Clock');

export const InjectClock = (): PropertyDecorator & ParameterDecorator => Inject(Clock);

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}
