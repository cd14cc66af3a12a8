import { jsonOf, rememberAsReceived } from './as-received';

describe(jsonOf.name, () => {
  it('should give the text a chunk arrived as', () => {
    const text = '{ "a" : 1 }';
    expect(jsonOf(rememberAsReceived(JSON.parse(text) as object, text))).toBe(text);
  });

  it('should serialise a chunk it knows no text of', () => {
    expect(jsonOf({ a: 1 })).toBe('{"a":1}');
  });

  it('should serialise a chunk whose text spans several lines, which one data: line cannot carry', () => {
    const text = '{"a":\n1}';
    expect(jsonOf(rememberAsReceived(JSON.parse(text) as object, text))).toBe('{"a":1}');
  });
});
