import fc from 'fast-check';
import { schemaViolations } from '../test/json-schema';
import { sampleOf } from './schema-sample';

describe(sampleOf.name, () => {
  it.each<[string, object, unknown]>([
    ['an object with its required properties only', { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a'] }, { a: 'Lorem' }],
    ['the first value of an enum', { type: 'string', enum: ['celsius', 'fahrenheit'] }, 'celsius'],
    ['a const', { const: 42 }, 42],
    ['the smallest integer above an exclusive minimum', { type: 'integer', exclusiveMinimum: 3.5 }, 4],
    ['a minimum rounded up to an integer', { type: 'integer', minimum: 1.2, maximum: 9 }, 2],
    ['a negative maximum', { type: 'number', maximum: -3 }, -3],
    ['a multiple', { type: 'integer', minimum: 5, multipleOf: 4 }, 8],
    ['minItems items', { type: 'array', items: { type: 'boolean' }, minItems: 2 }, [false, false]],
    ['the first non-null type of a list', { type: ['null', 'integer'] }, 0],
    ['the first branch of anyOf', { anyOf: [{ type: 'string', format: 'date' }, { type: 'null' }] }, '2026-01-01'],
    ['a string of minLength', { type: 'string', minLength: 12 }, 'Lorem ipsum '],
    ['a string within maxLength', { type: 'string', maxLength: 3 }, 'Lor'],
    ['an object implied by its keywords', { properties: { x: { type: 'null' } }, required: ['x'] }, { x: null }],
    ['a $ref into $defs', { $defs: { id: { type: 'string', format: 'uuid' } }, type: 'object', properties: { id: { $ref: '#/$defs/id' } }, required: ['id'] }, { id: '00000000-0000-4000-8000-000000000000' }],
  ])('should sample %s', (_, schema, expected) => {
    const sample = sampleOf(schema);

    expect(sample).toEqual(expected);
    expect(schemaViolations(sample, schema)).toEqual([]);
  });

  it('should sample a structured-outputs schema valid against itself', () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['title', 'rating', 'tags', 'author', 'published', 'review'],
      properties: {
        title: { type: 'string' },
        rating: { type: 'integer', minimum: 1, maximum: 5 },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
        author: { $ref: '#/$defs/person' },
        published: { type: ['string', 'null'], format: 'date-time' },
        review: { anyOf: [{ $ref: '#/$defs/text' }, { type: 'null' }] },
      },
      $defs: {
        person: { type: 'object', additionalProperties: false, required: ['name', 'email'], properties: { name: { type: 'string' }, email: { type: 'string', format: 'email' } } },
        text: { type: 'object', required: ['body'], properties: { body: { type: 'string', minLength: 20 } } },
      },
    };

    const sample = sampleOf(schema);

    expect(schemaViolations(sample, schema)).toEqual([]);
    expect(sample).toMatchObject({ rating: 1, tags: ['Lorem'], author: { email: 'user@example.com' } });
  });

  it('should keep a required property named __proto__ a property', () => {
    const schema = JSON.parse('{"type":"object","required":["__proto__"],"properties":{"__proto__":{"type":"integer"}}}');

    const sample = sampleOf(schema);

    expect(Object.getPrototypeOf(sample)).toBe(Object.prototype);
    expect(JSON.stringify(sample)).toBe('{"__proto__":0}');
  });

  it('should end a recursive schema and bound a huge one', () => {
    const recursive = { type: 'object', required: ['self'], properties: { self: { $ref: '#' } } };
    const huge = { type: 'array', minItems: 1e9, items: { type: 'array', minItems: 1e9, items: { type: 'string', minLength: 1e9 } } };

    expect(JSON.stringify(sampleOf(recursive)).length).toBeLessThan(1_000);
    expect(JSON.stringify(sampleOf(huge)).length).toBeLessThan(2_000_000);
  });

  it('should never throw, whatever it is given', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (schema) => {
        expect(() => JSON.stringify(sampleOf(schema))).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});
