import { keyFingerprint, startSimulator, type RunningSimulator } from '@tollgate/simulator';
import { APIError } from 'openai';
import { clientFor, MESSAGES, originOf, rejectionOf } from './helpers';

const KEY_A = 'sk-pool-key-a-0123456789';
const KEY_B = 'sk-pool-key-b-0123456789';

describe('simulator keys, organizations and projects', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({
      acceptedKeys: [{ key: KEY_A, label: 'A', organization: 'org-alpha', project: 'proj_alpha' }, { key: KEY_B, organization: 'org-beta' }, 'sk-plain'],
    });
  });
  afterEach(() => sim.reset());
  afterAll(() => sim.close());

  const completeWith = (key: string, headers: Record<string, string> = {}) =>
    clientFor(sim, key).chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }, { headers }).withResponse();

  it('should send the organization and project of each key on its responses', async () => {
    const a = await completeWith(KEY_A);
    const b = await completeWith(KEY_B);
    const plain = await completeWith('sk-plain');

    const orgAndProject = ({ response }: { response: Response }) => [response.headers.get('openai-organization'), response.headers.get('openai-project')];
    expect([a, b, plain].map(orgAndProject)).toEqual([
      ['org-alpha', 'proj_alpha'],
      ['org-beta', 'proj_simulator'],
      ['org-simulator', 'proj_simulator'],
    ]);
    expect(a.response.headers.get('x-request-id')).toBe('req_sim_1');
  });

  it('should send them on error responses too, and name the organization in rate-limit messages', async () => {
    const error = await rejectionOf(completeWith(KEY_A, { 'x-simulator-fault': 'rate_limit_exceeded' }));

    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).headers?.get('openai-organization')).toBe('org-alpha');
    expect((error as APIError).message).toContain('in organization org-alpha on requests per min');
  });

  it('should record which key each call used, by its label or its fingerprint, never the key itself', async () => {
    await completeWith(KEY_B);
    await completeWith(KEY_A);
    await completeWith(KEY_B);
    await rejectionOf(completeWith('sk-unknown-key-0123456789'));

    const calls = sim.calls();
    expect(calls.map((call) => call.keyLabel)).toEqual([keyFingerprint(KEY_B), 'A', keyFingerprint(KEY_B), keyFingerprint('sk-unknown-key-0123456789')]);
    expect(calls.filter((call) => call.keyLabel === 'A')).toHaveLength(1);
    expect(calls.map((call) => [call.auth, call.authorized, call.organization])).toEqual([
      ['bearer', true, 'org-beta'],
      ['bearer', true, 'org-alpha'],
      ['bearer', true, 'org-beta'],
      ['bearer', false, 'org-simulator'],
    ]);
    expect(JSON.stringify(calls)).not.toContain('sk-');
  });

  it('should give a fingerprint that tells keys apart and is the same every time', () => {
    expect(keyFingerprint(KEY_A)).toBe(keyFingerprint(KEY_A));
    expect(keyFingerprint(KEY_A)).not.toBe(keyFingerprint(KEY_B));
    expect(keyFingerprint(KEY_A)).toMatch(/^key_[0-9a-f]{12}$/);
  });

  it('should record no key for a call without one', async () => {
    const open = await startSimulator();
    try {
      await fetch(`${open.url}/models`);

      expect(open.calls()[0]).toMatchObject({ authorized: true, organization: 'org-simulator', project: 'proj_simulator' });
      expect(open.calls()[0].keyLabel).toBeUndefined();
      expect(open.calls()[0].auth).toBeUndefined();
    } finally {
      await open.close();
    }
  });

  it('should take entries in setAcceptedKeys, and the start keys back on reset', async () => {
    sim.setAcceptedKeys([{ key: 'sk-new', organization: 'org-new' }, 'sk-also']);
    const rotated = await completeWith('sk-new');
    const rejected = await rejectionOf(completeWith(KEY_A));
    sim.reset();
    const restored = await completeWith(KEY_A);

    expect(rotated.response.headers.get('openai-organization')).toBe('org-new');
    expect(rejected).toMatchObject({ status: 401 });
    expect(restored.response.headers.get('openai-organization')).toBe('org-alpha');
  });

  it('should take entries in PUT /_simulator/keys, and refuse malformed ones', async () => {
    const put = (acceptedKeys: unknown) =>
      fetch(`${originOf(sim)}/_simulator/keys`, { method: 'PUT', body: JSON.stringify({ acceptedKeys }) });

    const refused = await Promise.all([put([{ organization: 'org-x' }]), put([{ key: 'sk-x', org: 'org-x' }]), put([42])]);
    const set = await put([{ key: 'sk-remote', label: 'remote', project: 'proj_remote' }]);
    const { response } = await completeWith('sk-remote');

    expect(refused.map((r) => r.status)).toEqual([400, 400, 400]);
    expect(set.status).toBe(204);
    expect(response.headers.get('openai-project')).toBe('proj_remote');
    expect(sim.calls()[0].keyLabel).toBe('remote');
  });

  it('should refuse malformed entries in setAcceptedKeys', () => {
    expect(() => sim.setAcceptedKeys([{ key: '' }])).toThrow("'key' must be a non-empty string");
    expect(() => sim.setAcceptedKeys([{ key: 'sk-x', organisation: 'org-x' } as never])).toThrow("unknown field 'organisation'");
  });
});
