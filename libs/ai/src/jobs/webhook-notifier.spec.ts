import { createHmac } from 'node:crypto';
import { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { resolveAiOptions } from '../ai-module-options';
import { WebhookNotAllowedError } from '../errors/ai-errors';
import { track, useFakeTime } from '../../test/async';
import { FakeClock } from '../../test/fake-clock';
import { startWebhookReceiver } from '../../test/webhook-receiver';
import { WebhookLookup } from './webhook-address';
import { pinnedHttpTransport, signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER, WebhookNotifier, WebhookTransport } from './webhook-notifier';

const SECRET = 'whsec-unit-0123456789';
const URL_ALLOWED = 'https://hooks.example.com/tollgate';

/** A receiver that answers each delivery with the next status (an Error: the connection fails), the last one repeating. */
class FakeReceiver {
  readonly deliveries: Array<{ url: string; body: string; headers: Record<string, string>; address: LookupAddress }> = [];

  constructor(private readonly answers: Array<number | Error>) {}

  readonly transport: WebhookTransport = async (url, { body, headers, address }) => {
    this.deliveries.push({ url, body, headers, address });
    const answer = this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
    if (answer instanceof Error) throw answer;
    return { status: answer };
  };
}

/** A resolver that knows the names of `addresses`, and no other. */
function aLookup(addresses: Record<string, string[]>): WebhookLookup {
  return async (hostname) => {
    const known = addresses[hostname];
    if (!known) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return known.map((address) => ({ address, family: isIP(address) }));
  };
}

const PUBLIC_NAMES = aLookup({ 'hooks.example.com': ['93.184.215.14'], 'eu.acme.test': ['2606:4700::6810:84e5'], 'a.b.acme.test': ['93.184.215.15'] });

function aNotifier(receiver: FakeReceiver, jobs: Record<string, unknown> = {}, clock = new FakeClock(), lookup = PUBLIC_NAMES): WebhookNotifier {
  const options = resolveAiOptions({
    upstream: { apiKey: 'sk-test' },
    jobs: { webhookAllowedHosts: ['hooks.example.com', '*.acme.test'], webhookSecret: SECRET, webhookBaseDelayMs: 1_000, webhookMaxDelayMs: 60_000, ...jobs },
  });
  // Random 0.5: retry n waits half its ceiling, 500 ms, then 1 000 ms, then 2 000 ms.
  return new WebhookNotifier(options.jobs, receiver.transport, clock, () => 0.5, lookup);
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

    it.each([URL_ALLOWED, 'https://hooks.example.com:443/x', 'https://eu.acme.test/hook', 'https://a.b.acme.test/hook'])('should allow %s', (url) => {
      expect(() => notifier.assertAllowed(url)).not.toThrow();
    });

    it.each([
      ['a port off the allowed ports', 'https://hooks.example.com:8443/hook', {}],
      ['plain HTTP, by default', 'http://hooks.example.com/hook', { webhookAllowedPorts: [80, 443] }],
      ['plain HTTP to a port allowed for HTTPS', 'http://hooks.example.com:443/hook', {}],
      ['a loopback address in the URL', 'https://127.0.0.1/hook', { webhookAllowedHosts: ['127.0.0.1'] }],
      ['a private address in the URL', 'https://10.0.0.7/hook', { webhookAllowedHosts: ['10.0.0.7'] }],
    ])('should refuse %s', (_case, url, jobs) => {
      expect(() => aNotifier(new FakeReceiver([200]), jobs).assertAllowed(url)).toThrow(WebhookNotAllowedError);
    });

    it('should allow plain HTTP, other ports and private addresses only when each is allowed', () => {
      const permissive = aNotifier(new FakeReceiver([200]), {
        webhookAllowedHosts: ['127.0.0.1', 'hooks.example.com'],
        webhookAllowedPorts: [80, 8080],
        webhookAllowHttp: true,
        webhookAllowPrivateAddresses: true,
      });

      expect(() => permissive.assertAllowed('http://hooks.example.com/hook')).not.toThrow();
      expect(() => permissive.assertAllowed('http://127.0.0.1:8080/hook')).not.toThrow();
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

  describe('destination, checked at each delivery', () => {
    it.each([
      ['loopback', ['127.0.0.1']],
      ['loopback, anywhere in 127/8', ['127.3.2.1']],
      ['IPv6 loopback', ['::1']],
      ['the unspecified address', ['0.0.0.0']],
      ['the IPv6 unspecified address', ['::']],
      ['a private address (10/8)', ['10.1.2.3']],
      ['a private address (172.16/12)', ['172.31.255.254']],
      ['a private address (192.168/16)', ['192.168.1.1']],
      ['carrier-grade NAT', ['100.64.0.1']],
      ['link-local: the cloud metadata endpoint', ['169.254.169.254']],
      ['IPv6 link-local', ['fe80::1']],
      ['IPv6 unique-local', ['fd00:ec2::254']],
      ['IPv4-mapped IPv6 loopback', ['::ffff:127.0.0.1']],
      ['IPv4-mapped IPv6 private, in hex', ['::ffff:a00:1']],
      ['multicast', ['224.0.0.1']],
      ['a private address among public ones', ['93.184.215.14', '10.0.0.1']],
    ])('should refuse, without connecting, a name that resolves to %s', async (_case, addresses) => {
      const receiver = new FakeReceiver([200]);

      const outcome = await aNotifier(receiver, {}, new FakeClock(), aLookup({ 'hooks.example.com': addresses })).deliver(URL_ALLOWED, {}, 'job_1');

      expect(outcome).toBe('refused');
      expect(receiver.deliveries).toEqual([]);
    });

    it('should connect to the address it checked', async () => {
      const receiver = new FakeReceiver([200]);

      const outcome = await aNotifier(receiver, {}, new FakeClock(), aLookup({ 'hooks.example.com': ['2606:4700::1111', '93.184.215.14'] })).deliver(URL_ALLOWED, {}, 'job_1');

      expect(outcome).toBe('delivered');
      expect(receiver.deliveries.map((delivery) => [delivery.url, delivery.address])).toEqual([[URL_ALLOWED, { address: '2606:4700::1111', family: 6 }]]);
    });

    it('should deliver to a private address when private addresses are allowed', async () => {
      const receiver = new FakeReceiver([200]);
      const notifier = aNotifier(receiver, { webhookAllowPrivateAddresses: true }, new FakeClock(), aLookup({ 'hooks.example.com': ['10.0.0.7'] }));

      expect(await notifier.deliver(URL_ALLOWED, {}, 'job_1')).toBe('delivered');
      expect(receiver.deliveries[0].address).toEqual({ address: '10.0.0.7', family: 4 });
    });

    it('should refuse a URL the allow-list no longer allows, though it was allowed at submit', async () => {
      const receiver = new FakeReceiver([200]);

      const outcome = await aNotifier(receiver, { webhookAllowedHosts: ['other.example.com'] }).deliver(URL_ALLOWED, {}, 'job_1');

      expect(outcome).toBe('refused');
      expect(receiver.deliveries).toEqual([]);
    });

    it('should retry a name that does not resolve yet', async () => {
      useFakeTime();
      const receiver = new FakeReceiver([200]);
      let lookups = 0;
      const flaky: WebhookLookup = async (hostname) => (++lookups === 1 ? aLookup({})(hostname) : PUBLIC_NAMES(hostname));

      const delivery = track(aNotifier(receiver, {}, new FakeClock(), flaky).deliver(URL_ALLOWED, {}, 'job_1'));
      await jest.advanceTimersByTimeAsync(500);

      expect(delivery.value).toBe('delivered');
      expect(lookups).toBe(2);
    });
  });

  describe('the pinned transport', () => {
    it('should connect to the checked address, with the name in the Host header', async () => {
      const server = await startWebhookReceiver();
      try {
        const options = resolveAiOptions({
          upstream: { apiKey: 'sk-test' },
          jobs: { webhookAllowedHosts: ['hooks.tenant.test'], webhookAllowedPorts: [server.port], webhookAllowHttp: true, webhookAllowPrivateAddresses: true, webhookSecret: SECRET },
        });
        // No resolver of this machine knows the name: only a connection to the checked address can reach the receiver.
        const notifier = new WebhookNotifier(options.jobs, pinnedHttpTransport, new FakeClock(), () => 0.5, aLookup({ 'hooks.tenant.test': ['127.0.0.1'] }));

        const outcome = await notifier.deliver(`http://hooks.tenant.test:${server.port}/hooks/tollgate`, { id: 'job_1' }, 'job_1');

        expect(outcome).toBe('delivered');
        expect(server.received.map(({ headers, rawBody }) => [headers.host, rawBody])).toEqual([[`hooks.tenant.test:${server.port}`, '{"id":"job_1"}']]);
      } finally {
        await server.close();
      }
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
