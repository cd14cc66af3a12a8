import { buildMessage, ValidateBy, ValidateIf, ValidationOptions } from 'class-validator';

/**
 * May be left out, but not sent as null: for fields that have no "none" (a name, a plan).
 * `@IsOptional()` is for fields where null means something (no limit).
 */
export const IsOmittable = (): PropertyDecorator => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** C0 and C1 control characters and DEL: never part of a name, and NUL is refused by PostgreSQL text columns. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTER.test(value);
}

/**
 * For strings that name something (a model, a user, a tool, a tenant's plan): no control characters.
 * Anything not a string passes, for the type check beside it to judge.
 */
export const HasNoControlCharacters = (options: ValidationOptions = {}): PropertyDecorator =>
  ValidateBy(
    {
      name: 'hasNoControlCharacters',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !hasControlCharacters(value),
        defaultMessage: buildMessage((each) => `${each}$property must not hold control characters`),
      },
    },
    options,
  );
