import { ValidateIf } from 'class-validator';

/**
 * May be left out, but not sent as null: for fields that have no "none" (a name, a plan).
 * `@IsOptional()` is for fields where null means something (no limit).
 */
export const IsOmittable = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== undefined);
