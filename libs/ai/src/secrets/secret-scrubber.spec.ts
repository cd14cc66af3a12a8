import { SecretScrubber } from './secret-scrubber';

describe(SecretScrubber.name, () => {
  const AZURE_STYLE_KEY = '0123456789abcdef0123456789abcdef';

  it('should replace a known secret whole, whatever its shape', () => {
    const scrubber = new SecretScrubber(() => [AZURE_STYLE_KEY]);

    expect(scrubber.scrub(`api-key ${AZURE_STYLE_KEY} refused`)).toBe('api-key [redacted] refused');
  });

  it('should ask for the known secrets on every call, so that a rotated key is scrubbed at once', () => {
    let current = 'first-key-0123456789';
    const scrubber = new SecretScrubber(() => [current]);
    current = 'second-key-0123456789';

    expect(scrubber.scrub('second-key-0123456789')).toBe('[redacted]');
  });

  it('should replace a known secret as JSON escapes it', () => {
    const secret = 'quoted"secret\\0123';
    const scrubber = new SecretScrubber(() => [secret]);

    expect(scrubber.scrub(JSON.stringify({ msg: `key ${secret}` }))).toBe('{"msg":"key [redacted]"}');
  });

  it('should replace a secret that holds another whole', () => {
    const scrubber = new SecretScrubber(() => ['abcdefgh', 'abcdefgh-longer']);

    expect(scrubber.scrub('abcdefgh-longer')).toBe('[redacted]');
  });

  it('should leave secrets shorter than 8 characters, test placeholders that would mangle words', () => {
    expect(new SecretScrubber(() => ['key', undefined]).scrub('a key to the door')).toBe('a key to the door');
  });

  it.each([
    ['Authorization: Bearer abc.DEF_ghi-jkl~mno+p/q==', 'Authorization: Bearer [redacted]'],
    ['authorization: bearer opaque-token', 'authorization: Bearer [redacted]'],
    ['key sk-proj-AbC123_xyz-0987 refused', 'key [redacted] refused'],
    ['key sk-abcdefgh.', 'key [redacted].'],
    [`tenant key tg-${'a'.repeat(40)}`, 'tenant key [redacted]'],
  ])('should replace a credential by its shape: %s', (text, scrubbed) => {
    expect(new SecretScrubber().scrub(text)).toBe(scrubbed);
  });

  it.each([
    'the task-management-service answered',
    'sk-short is no key',
    'model gpt-4o-mini in organization org-abc',
    'tenant tg-team-a',
    'only the bearer of the admin token',
  ])('should leave text that only looks a little like a credential: %s', (text) => {
    expect(new SecretScrubber().scrub(text)).toBe(text);
  });

  it('should keep a JSON line parseable when a bearer token sits in a string', () => {
    const line = JSON.stringify({ msg: 'header "Authorization: Bearer sk-abcdefgh1234"', n: 1 });

    expect(JSON.parse(new SecretScrubber().scrub(line))).toEqual({ msg: 'header "Authorization: Bearer [redacted]"', n: 1 });
  });

  it('should know the secrets of both scrubbers once extended', () => {
    const scrubber = new SecretScrubber(() => ['upstream-0123456789']).with(() => ['admin-token-0123456789']);

    expect(scrubber.scrub('upstream-0123456789 admin-token-0123456789')).toBe('[redacted] [redacted]');
  });
});
