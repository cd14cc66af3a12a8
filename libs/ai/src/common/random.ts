import { Inject } from '@nestjs/common';

/** A source of uniform numbers in [0, 1), injected so that tests can fix the backoff jitter. */
export type Random = () => number;

export const Random = Symbol('Random');

export const InjectRandom = (): PropertyDecorator & ParameterDecorator => Inject(Random);
