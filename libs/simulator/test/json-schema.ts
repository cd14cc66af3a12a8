/**
 * A tiny JSON Schema validator for the subset the simulator's samples honour (type, properties, required,
 * additionalProperties: false, items, minItems, enum, const, anyOf/oneOf, $ref into the schema, bounds,
 * minLength/maxLength): the places where `value` breaks `schema`, as JSON paths. Empty means valid.
 */
export function schemaViolations(value: unknown, schema: unknown, root: unknown = schema, path = '$'): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as Record<string, any>;
  if (typeof s.$ref === 'string') return schemaViolations(value, pointer(root, s.$ref), root, path);
  if ('const' in s) return deepEqual(value, s.const) ? [] : [`${path}: not the const`];
  if (Array.isArray(s.enum) && !s.enum.some((option: unknown) => deepEqual(value, option))) return [`${path}: not in the enum`];
  const branches = s.anyOf ?? s.oneOf;
  if (Array.isArray(branches) && !branches.some((branch) => schemaViolations(value, branch, root, path).length === 0)) {
    return [`${path}: matches no branch`];
  }
  const types: unknown[] | undefined = s.type === undefined ? undefined : [s.type].flat();
  if (types && !types.some((type) => hasType(value, type))) return [`${path}: not of type ${types.join('|')}`];

  const violations: string[] = [];
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) violations.push(`${path}: below minimum`);
    if (typeof s.maximum === 'number' && value > s.maximum) violations.push(`${path}: above maximum`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) violations.push(`${path}: not above exclusiveMinimum`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) violations.push(`${path}: not below exclusiveMaximum`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength) violations.push(`${path}: shorter than minLength`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) violations.push(`${path}: longer than maxLength`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) violations.push(`${path}: fewer than minItems`);
    value.forEach((item, i) => violations.push(...schemaViolations(item, s.items, root, `${path}[${i}]`)));
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    const properties: Record<string, unknown> = s.properties ?? {};
    for (const name of s.required ?? []) if (!Object.hasOwn(record, name)) violations.push(`${path}.${name}: missing`);
    for (const [name, property] of Object.entries(record)) {
      if (Object.hasOwn(properties, name)) violations.push(...schemaViolations(property, properties[name], root, `${path}.${name}`));
      else if (s.additionalProperties === false) violations.push(`${path}.${name}: not allowed`);
    }
  }
  return violations;
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'null':
      return value === null;
    default:
      return typeof value === type;
  }
}

function pointer(root: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .filter(Boolean)
    .reduce<any>((target, part) => target?.[part.replaceAll('~1', '/').replaceAll('~0', '~')], root);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
