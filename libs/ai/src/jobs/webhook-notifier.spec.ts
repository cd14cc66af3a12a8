import { createHmac } from 'node:crypto';
import { resolveAiOptions } from '../ai-module-options';
import { WebhookNotAllowedError } from '../errors/ai-errors';
import { track, useFakeTime } from '../../test/async';
import { FakeClock } from '../../test/fake-clock';
import { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER, WebhookNotifier, WebhookTransport } from './webhook-notifier';

const SECRET = 'whsec-unit-0123456789';
const URL_ALLOWED = 'https://hooks.example.com/tollgate';

/** A receiver that answers each delivery with the next status (an Error: the connection fails), the last one repeating. */
class FakeReceiver {
  readonly deliveries: Array<{ url: string; body: string; headers: Record<string, string> }> = [];

  constructor(private readonly answers: Array<number | Error>) {}

  readonly transport: WebhookTransport = async (url, { body, headers }) => {
    this.deliveries.push({ url, body, headers });
    const answer = this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
    if (answer instanceof Error) throw answer;
    return { status: answer };
  };
}

function aNotifier(receiver: FakeReceiver, jobs: Record<string, unknown> = {}, clock = new FakeClock()): WebhookNotifier {
  const options = resolveAiOptions({
    upstream: { apiKey: 'sk-test' },
    jobs: { webhookAllowedHosts: ['hooks.example.com', '*.acme.test'], webhookSecret: SECRET, webhookBaseDelayMs: 1_000, webhookMaxDelayMs: 60_000, ...jobs },
  });
  // Random 0.5: retry n waits half its ceiling, 500 ms, then 1 000 ms, then 2 000 ms.
  return new WebhookNotifier(options, receiver.transport, clock, () => 0.5);
}

describe(WebhookNotifier.name, () => {
  afterEach(() => jest.useRealTimers());

  describe('signatures', () => {
    it('should sign the timestamp and the raw body with HMAC-SHA256', () => {
      const body = '{"id":"job_1"}';

      const header = signWebhook(body, SECRET, 1_700_000_000);

      const expected = createHmac('sha256', SECRET).update(`1700000000.${body}`).digest('hex');
      expect(header).toBe(`t=1700000000,v1=${expected}`);
    });

    it.each([
      ['the body changed', '{"id":"job_2"}', SECRET, 1_700_000_000],
      ['another secret', '{"id":"job_1"}', 'whsec-other-0123456789', 1_700_000_000],
      ['a timestamp older than the tolerance', '{"id":"job_1"}', SECRET, 1_700_000_301],
    ])('should not verify a signature when %s', (_case, body, secret, now) => {
      const header = signWebhook('{"id":"job_1"}', SECRET, 1_700_000_000);

      expect(verifyWebhookSignature(header, body, secret, now)).toBe(false);
    });

    it('should verify its own signature', () => {
      expect(verifyWebhookSignature(signWebhook('{}', SECRET, 1_700_000_000), '{}', SECRET, 1_700_000_010)).toBe(true);
    });

    it.each([undefined, '', 't=1700000000', 'v1=abcd', 't=x,v1=abcd'])('should not verify the malformed header %p', (header) => {
      expect(verifyWebhookSignature(header, '{}', SECRET, 1_700_000_000)).toBe(false);
    });
  });

  describe('allow-list', () => {
    const notifier = aNotifier(new FakeReceiver([200]));

    it.each([URL_ALLOWED, 'http://hooks.example.com:8080/x', 'https://eu.acme.test/hook', 'https://a.b.acme.test/hook'])('should allow %s', (url) => {
      expect(() => notifier.assertAllowed(url)).not.toThrow();
    });

    it.each([
      ['another host', 'https://evil.example.com/hook'],
      ['a host that only ends like an allowed one', 'https://evilhooks.example.com/hook'],
      ['the parent of a wildcard', 'https://acme.test/hook'],
      ['a suffix lookalike', 'https://eu.acme.test.evil.com/hook'],
      ['credentials in the URL', 'https://user:pass@hooks.example.com/hook'],
      ['another scheme', 'ftp://hooks.example.com/hook'],
      ['not a URL', 'hooks.example.com/hook'],
    ])('should refuse %s', (_case, url) => {
      expect(() => notifier.assertAllowed(url)).toThrow(WebhookNotAllowedError);
    });

    it('should refuse every webhook when no secret is configured', () => {
      expect(() => aNotifier(new FakeReceiver([200]), { webhookSecret: undefined }).assertAllowed(URL_ALLOWED)).toThrow(WebhookNotAllowedError);
    });
  });

  describe('delivery', () => {
    beforeEach(() => useFakeTime());

    it('should POST the JSON body once, signed at the clock’s time, and report it delivered', async () => {
      const receiver = new FakeReceiver([204]);
      const clock = new FakeClock(1_700_000_123_456);

      const outcome = await aNotifier(receiver, {}, clock).deliver(URL_ALLOWED, { id: 'job_1', status: 'succeeded' }, 'job_1');

      expect(outcome).toBe('delivered');
      const [{ body, headers }] = receiver.deliveries;
      expect(JSON.parse(body)).toEqual({ id: 'job_1', status: 'succeeded' });
      expect(headers['x-tollgate-job-id']).toBe('job_1');
      expect(verifyWebhookSignature(headers[WEBHOOK_SIGNATURE_HEADER], body, SECRET, 1_700_000_123)).toBe(true);
    });

    it('should retry a 5xx, a 429 and a failed connection with full-jitter exponential backoff', async () => {
      const receiver = new FakeReceiver([503, 429, new TypeError('fetch failed'), 200]);

      const delivery = track(aNotifier(receiver).deliver(URL_ALLOWED, {}, 'job_1'));
      await jest.advanceTimersByTimeAsync(0);
      expect(receiver.deliveries).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(499);
      expect(receiver.deliveries).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(receiver.deliveries).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(receiver.deliveries).toHaveLength(3);
      await jest.advanceTimersByTimeAsync(2_000);

      expect(receiver.deliveries).toHaveLength(4);
      expect(delivery.value).toBe('delivered');
      expect(receiver.deliveries.map((delivery) => delivery.headers['x-tollgate-delivery-attempt'])).toEqual(['1', '2', '3', '4']);
    });

    it('should give up after webhookMaxAttempts deliveries', async () => {
      const receiver = new FakeReceiver([500]);

      const delivery = track(aNotifier(receiver, { webhookMaxAttempts: 3 }).deliver(URL_ALLOWED, {}, 'job_1'));
      await jest.advanceTimersByTimeAsync(60_000);

      expect(receiver.deliveries).toHaveLength(3);
      expect(delivery.value).toBe('failed');
    });

    it('should not retry an answer that waiting cannot change', async () => {
      const receiver = new FakeReceiver([410, 200]);

      const delivery = track(aNotifier(receiver).deliver(URL_ALLOWED, {}, 'job_1'));
      await jest.advanceTimersByTimeAsync(60_000);

      expect(receiver.deliveries).toHaveLength(1);
      expect(delivery.value).toBe('failed');
    });

    it('should stop waiting to retry once stopped, as interrupted (not failed: another process delivers it)', async () => {
      const receiver = new FakeReceiver([503]);
      const notifier = aNotifier(receiver);

      const delivery = track(notifier.deliver(URL_ALLOWED, {}, 'job_1'));
      await jest.advanceTimersByTimeAsync(0);
      notifier.stop();
      await jest.advanceTimersByTimeAsync(0);

      expect(delivery.value).toBe('interrupted');
      expect(receiver.deliveries).toHaveLength(1);
    });
  });
});
