import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, LookupFunction } from 'node:net';
import { JobsOptions } from '../ai-module-options';
import { JOBS_OPTIONS } from '../ai-option-slices';
import { sleep } from '../common/abort';
import { Clock, InjectClock } from '../common/clock';
import { InjectRandom, Random } from '../common/random';
import { WebhookNotAllowedError } from '../errors/ai-errors';
import { backoffDelayMs } from '../upstream/retry-policy';
import { InjectWebhookLookup, isPublicAddress, WebhookLookup } from './webhook-address';

/** The header that carries a webhook's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-tollgate-signature';

/** Sends one webhook request to `address`, the address checked for the URL's host; the seam a test replaces. */
export type WebhookTransport = (
  url: string,
  init: { body: string; headers: Record<string, string>; signal: AbortSignal; address: LookupAddress },
) => Promise<{ status: number }>;

export const WebhookTransport = Symbol('WebhookTransport');

export const InjectWebhookTransport = (): PropertyDecorator & ParameterDecorator => Inject(WebhookTransport);

/**
 * Node's http(s) on a connection of its own to `address`: a second lookup could answer with another
 * address than the one checked (DNS rebinding). The URL's host still names the Host header and the
 * TLS server name, whose certificate is verified. A redirect is not followed: it could lead off the allow-list.
 */
export const pinnedHttpTransport: WebhookTransport = (url, { body, headers, signal, address }) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const pinned = ((_hostname, options, callback) =>
      options.all ? callback(null, [address]) : callback(null, address.address, address.family)) as LookupFunction;
    const request = (target.protocol === 'https:' ? https : http).request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal, lookup: pinned, agent: false },
      (response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0 });
      },
    );
    request.once('error', reject);
    request.end(body);
  });

/** The signature of `body` sent at `timestampSeconds`; the timestamp is signed too, so that an old delivery cannot be replayed as new. */
export function signWebhook(body: string, secret: string, timestampSeconds: number): string {
  const digest = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${digest}`;
}

/** What a receiver does: recompute the signature of the raw body and compare in constant time, within a tolerance. */
export function verifyWebhookSignature(header: string | undefined, body: string, secret: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const fields = new Map((header ?? '').split(',').map((field) => field.split('=', 2) as [string, string]));
  const timestamp = Number(fields.get('t'));
  const signature = fields.get('v1');
  if (!Number.isInteger(timestamp) || !signature || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(body, secret, timestamp).split('v1=')[1], 'hex');
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Retrying these may succeed; any other answer is the receiver's final word. */
const RETRIED_STATUSES = new Set([408, 425, 429]);

/**
 * `refused`: the URL is no longer allowed, or its host resolves to an address webhooks may not reach;
 * `interrupted`: the process is stopping, and the webhook is left for another process to deliver.
 */
export type DeliveryOutcome = 'delivered' | 'failed' | 'refused' | 'interrupted';

const DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80 };

/**
 * Calls a job's webhook when it finishes: signed, only to hosts on the allow-list, retried with
 * full-jitter exponential backoff. Deliveries are at least once; receivers dedupe on the job id.
 */
@Injectable()
export class WebhookNotifier {
  private readonly logger = new Logger(WebhookNotifier.name);
  private readonly stopping = new AbortController();

  constructor(
    @Inject(JOBS_OPTIONS) private readonly jobs: JobsOptions,
    @InjectWebhookTransport() private readonly transport: WebhookTransport,
    @InjectClock() private readonly clock: Clock,
    @InjectRandom() private readonly random: Random,
    @InjectWebhookLookup() private readonly lookup: WebhookLookup,
  ) {}

  /** Refuses a URL that webhooks may not be sent to, by what it says: at submit, and again before each delivery. */
  assertAllowed(url: string): URL {
    const { webhookAllowedHosts, webhookAllowedPorts, webhookAllowHttp, webhookAllowPrivateAddresses, webhookSecret } = this.jobs;
    if (!webhookSecret || webhookAllowedHosts.length === 0) throw new WebhookNotAllowedError('This gateway sends no webhooks.');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new WebhookNotAllowedError(`'${url}' is not a URL.`);
    }
    if (parsed.protocol !== 'https:' && !(webhookAllowHttp && parsed.protocol === 'http:')) {
      throw new WebhookNotAllowedError(webhookAllowHttp ? 'A webhook URL must be http(s).' : 'A webhook URL must be https.');
    }
    if (parsed.username || parsed.password) throw new WebhookNotAllowedError('A webhook URL may not carry credentials.');
    const host = bareHost(parsed);
    if (!webhookAllowedHosts.some((pattern) => hostMatches(host, pattern))) {
      throw new WebhookNotAllowedError(`Webhooks may not be sent to the host '${host}'.`);
    }
    const port = portOf(parsed);
    if (!webhookAllowedPorts.includes(port)) throw new WebhookNotAllowedError(`Webhooks may not be sent to the port ${port}.`);
    if (!webhookAllowPrivateAddresses && isIP(host) !== 0 && !isPublicAddress(host)) {
      throw new WebhookNotAllowedError(`Webhooks may not be sent to the address ${host}, which is not a public one.`);
    }
    return parsed;
  }

  /**
   * The address to connect to for `url`, checked now: the URL against the allow-list as it stands, and
   * every address its host resolves to (one bad answer among good ones is enough to refuse: which one a
   * connection would pick is not ours to say). A lookup that fails rejects with its own error.
   */
  async destinationOf(url: string): Promise<LookupAddress> {
    const host = bareHost(this.assertAllowed(url));
    const family = isIP(host);
    const addresses = family === 0 ? await this.lookup(host) : [{ address: host, family }];
    if (addresses.length === 0) throw new Error(`'${host}' has no address`);
    const refused = this.jobs.webhookAllowPrivateAddresses ? undefined : addresses.find(({ address }) => !isPublicAddress(address));
    if (refused) throw new WebhookNotAllowedError(`'${host}' resolves to ${refused.address}, which is not a public address.`);
    return addresses[0];
  }

  /** POSTs `payload` to `url` until it is accepted (2xx), refused for good, or the attempts run out. */
  async deliver(url: string, payload: unknown, jobId: string): Promise<DeliveryOutcome> {
    const body = JSON.stringify(payload);
    const { webhookMaxAttempts, webhookBaseDelayMs, webhookMaxDelayMs } = this.jobs;
    for (let attempt = 1; attempt <= webhookMaxAttempts; attempt++) {
      const verdict = await this.attempt(url, body, jobId, attempt);
      if (this.stopping.signal.aborted && verdict !== 'delivered') return 'interrupted';
      if (verdict !== 'retry') return verdict;
      if (attempt === webhookMaxAttempts) break;
      const delayMs = backoffDelayMs(attempt, { maxAttempts: webhookMaxAttempts, baseDelayMs: webhookBaseDelayMs, maxDelayMs: webhookMaxDelayMs, maxRetryAfterMs: 0 }, this.random);
      try {
        await sleep(delayMs, this.stopping.signal);
      } catch {
        return 'interrupted';
      }
    }
    this.logger.warn(`webhook of job ${jobId} to ${new URL(url).host} not delivered`);
    return 'failed';
  }

  /** Pending retries give up and report `interrupted` (a shutdown must not wait for a receiver's backoff). */
  stop(): void {
    this.stopping.abort();
  }

  private async attempt(url: string, body: string, jobId: string, attempt: number): Promise<DeliveryOutcome | 'retry'> {
    let address: LookupAddress;
    try {
      address = await this.destinationOf(url);
    } catch (error) {
      if (!(error instanceof WebhookNotAllowedError)) return 'retry'; // the lookup failed: the name may resolve soon
      this.logger.warn(`webhook of job ${jobId} refused: ${error.message}`);
      return 'refused';
    }
    const secret = this.jobs.webhookSecret ?? '';
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Tollgate-Webhook/1',
      'x-tollgate-job-id': jobId,
      'x-tollgate-delivery-attempt': String(attempt),
      [WEBHOOK_SIGNATURE_HEADER]: signWebhook(body, secret, Math.floor(this.clock.now() / 1000)),
    };
    const signal = AbortSignal.any([AbortSignal.timeout(this.jobs.webhookTimeoutMs), this.stopping.signal]);
    try {
      const { status } = await this.transport(url, { body, headers, signal, address });
      if (status >= 200 && status < 300) return 'delivered';
      return status >= 500 || RETRIED_STATUSES.has(status) ? 'retry' : 'failed';
    } catch {
      // Refused connection, reset, timeout: the receiver may be back soon.
      return 'retry';
    }
  }
}

/** The URL's host name, lowercase, an IPv6 address without its brackets. */
function bareHost(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
}

function portOf(url: URL): number {
  return url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port);
}

/** `hooks.example.com` matches itself only; `*.example.com` matches its subdomains, not example.com. */
function hostMatches(host: string, pattern: string): boolean {
  const wanted = pattern.trim().toLowerCase();
  if (wanted.startsWith('*.')) return host.endsWith(wanted.slice(1)) && host.length > wanted.length - 1;
  return host === wanted;
}
