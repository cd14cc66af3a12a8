import { exceededJsonBudget, JsonBudget } from './json-budget';

const SMALL: JsonBudget = { maxDepth: 3, maxKeysPerObject: 2, maxArrayLength: 3, maxValues: 8, maxKeyLength: 4 };

describe(exceededJsonBudget.name, () => {
  it.each([
    ['an object of as many keys as allowed', '{"a":1,"b":2}'],
    ['an array of as many elements as allowed', '{"a":[1,2,3]}'],
    ['braces, colons, commas and escaped quotes inside strings', '{"a":"{[:,,,:]}\\":,,","b":[":,:,"]}'],
    ['a long string value, which is content, not a key', `{"a":"${'x'.repeat(100)}"}`],
    ['blanks between the tokens', '{ "a" : [ 1 , 2 ] ,\n "b" :\t{ } }'],
    ['empty containers', '{"a":[],"b":{}}'],
  ])('should let through %s', (_case, text) => {
    expect(exceededJsonBudget(text, SMALL)).toBeUndefined();
  });

  it.each([
    ['too many keys at the top', '{"a":1,"b":2,"c":3}', null, 'an object of more than 2 keys'],
    ['too many keys in a field', '{"meta":{"a":1,"b":2,"c":3}}', 'meta', 'an object of more than 2 keys'],
    ['too many elements, deeper in a field', '{"stop":[[1,2,3,4]]}', 'stop', 'an array of more than 3 elements'],
    ['a key too long', '{"a":{"abcde":1}}', 'a', 'a key longer than 4 characters'],
    ['a key with an escaped quote, too long', '{"a\\"bcd":1}', null, 'a key longer than 4 characters'],
    ['nesting too deep', '[[[[1]]]]', null, 'deeper than 3 levels'],
    ['too many values in all', '{"a":[1,2],"b":[1,2],"c":[1,2],"d":[1,2]}', null, 'more than 8 JSON values'],
  ])('should find %s, naming the top-level field', (_case, text, param, fragment) => {
    const keysAllowed = text.startsWith('{"a":[1,2],') ? 4 : SMALL.maxKeysPerObject;

    expect(exceededJsonBudget(text, { ...SMALL, maxKeysPerObject: keysAllowed })).toEqual({ param, message: expect.stringContaining(fragment) });
  });

  it('should stop at the first excess of a huge object, whatever follows', () => {
    const text = `{${Array.from({ length: 150_000 }, (_, index) => `"k${index}":0`).join(',')}}`;

    expect(exceededJsonBudget(text)).toEqual({ param: null, message: 'The request body holds an object of more than 1000 keys.' });
  });
});
