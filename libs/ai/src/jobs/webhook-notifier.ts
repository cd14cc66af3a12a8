import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';
import { sleep } from '../common/abort';
import { Clock, InjectClock } from '../common/clock';
import { InjectRandom, Random } from '../common/random';
import { WebhookNotAllowedError } from '../errors/ai-errors';
import { backoffDelayMs } from '../upstream/retry-policy';

/** The header that carries a webhook's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-tollgate-signature';

/** Sends one webhook request; the seam a test replaces. */
export type WebhookTransport = (url: string, init: { body: string; headers: Record<string, string>; signal: AbortSignal }) => Promise<{ status: number }>;

export const WebhookTransport = Symbol('WebhookTransport');

export const InjectWebhookTransport = (): PropertyDecorator & ParameterDecorator => Inject(WebhookTransport);

/** Node's fetch; a redirect is not followed, since it could lead to a host off the allow-list. */
export const fetchTransport: WebhookTransport = async (url, { body, headers, signal }) => {
  const response = await fetch(url, { method: 'POST', body, headers, signal, redirect: 'manual' });
  await response.body?.cancel();
  return { status: response.status };
};

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

/** `interrupted`: the process is stopping; the webhook is left for another process to deliver. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'interrupted';

/**
 * Calls a job's webhook when it finishes: signed, only to hosts on the allow-list, retried with
 * full-jitter exponential backoff. Deliveries are at least once; receivers dedupe on the job id.
 */
@Injectable()
export class WebhookNotifier {
  private readonly logger = new Logger(WebhookNotifier.name);
  private readonly stopping = new AbortController();

  constructor(
    @Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions,
    @InjectWebhookTransport() private readonly transport: WebhookTransport,
    @InjectClock() private readonly clock: Clock,
    @InjectRandom() private readonly random: Random,
  ) {}

  /** Refuses, at submit time, a URL that webhooks may not be sent to. */
  assertAllowed(url: string): void {
    const { webhookAllowedHosts, webhookSecret } = this.options.jobs;
    if (!webhookSecret || webhookAllowedHosts.length === 0) throw new WebhookNotAllowedError('This gateway sends no webhooks.');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new WebhookNotAllowedError(`'${url}' is not a URL.`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new WebhookNotAllowedError('A webhook URL must be http(s).');
    if (parsed.username || parsed.password) throw new WebhookNotAllowedError('A webhook URL may not carry credentials.');
    if (!webhookAllowedHosts.some((pattern) => hostMatches(parsed.hostname, pattern))) {
      throw new WebhookNotAllowedError(`Webhooks may not be sent to the host '${parsed.hostname}'.`);
    }
  }

  /** POSTs `payload` to `url` until it is accepted (2xx), refused for good, or the attempts run out. */
  async deliver(url: string, payload: unknown, jobId: string): Promise<DeliveryOutcome> {
    const body = JSON.stringify(payload);
    const { webhookMaxAttempts, webhookBaseDelayMs, webhookMaxDelayMs } = this.options.jobs;
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
    const secret = this.options.jobs.webhookSecret ?? '';
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'Tollgate-Webhook/1',
      'x-tollgate-job-id': jobId,
      'x-tollgate-delivery-attempt': String(attempt),
      [WEBHOOK_SIGNATURE_HEADER]: signWebhook(body, secret, Math.floor(this.clock.now() / 1000)),
    };
    const signal = AbortSignal.any([AbortSignal.timeout(this.options.jobs.webhookTimeoutMs), this.stopping.signal]);
    try {
      const { status } = await this.transport(url, { body, headers, signal });
      if (status >= 200 && status < 300) return 'delivered';
      return status >= 500 || RETRIED_STATUSES.has(status) ? 'retry' : 'failed';
    } catch {
      // Refused connection, reset, timeout: the receiver may be back soon.
      return 'retry';
    }
  }
}

/** `hooks.example.com` matches itself only; `*.example.com` matches its subdomains, not example.com. */
function hostMatches(hostname: string, pattern: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const wanted = pattern.trim().toLowerCase();
  if (wanted.startsWith('*.')) return host.endsWith(wanted.slice(1)) && host.length > wanted.length - 1;
  return host === wanted;
}
