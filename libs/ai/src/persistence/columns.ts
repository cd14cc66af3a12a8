import { ValueTransformer } from 'typeorm';

/** PostgreSQL returns BIGINT as a string; every bigint here (epoch ms, tokens, micro-USD) fits a JS number. */
export const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};
