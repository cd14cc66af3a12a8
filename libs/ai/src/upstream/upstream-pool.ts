import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { BreakerOptions, SecretOptions } from '../ai-module-options';
import { BREAKER_OPTIONS, SECRET_OPTIONS, UPSTREAM_POOL_OPTIONS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { AiError, UpstreamAuthFailedError, UpstreamQuotaExhaustedError, UpstreamRateLimitedError } from '../errors/ai-errors';
import { SecretScrubber } from '../secrets/secret-scrubber';
import { RefreshOutcome, UpstreamKeyManager, UpstreamKeyStatus } from '../secrets/upstream-key-manager';
import { Breakers, ModelBreaker } from './breaker-registry';
import { UpstreamAccount } from './upstream-client';
import { UpstreamEvents } from './upstream-events';
import { ExpectedAccount, ResolvedUpstream, UpstreamEndpoint, UpstreamPoolOptions } from './upstream-pool-options';

/** `ready` serves; `resting` waits out an upstream 429's Retry-After (for the model it came for); `out` is taken out until a refresh or a probe. */
export type KeyState = 'ready' | 'resting' | 'out';

/**
 * Why a key is out: its account has no credit, the upstream refused it (401) even after a re-read, or it answers for
 * another organization or project than expected.
 */
export type KeyOutReason = 'insufficient_quota' | 'refused' | 'wrong_account';

/** Out of credit and refused keys are probed again; a wrong account's answers would be billed to it, so it is not. */
const PROBED_REASONS: ReadonlySet<KeyOutReason> = new Set(['insufficient_quota', 'refused']);

interface OutOfService {
  reason: KeyOutReason;
  since: number;
  /** When a call may try the key again (a probe); never for a wrong account, which only a new secret brings back. */
  probeAt?: number;
  detail?: string;
  /** The fingerprint of the secret that was taken out: another one brings the key back. */
  fingerprint: string;
}

/** One key of one upstream, with its own rotation and its own state. */
export class PooledKey {
  /** Attempts waiting for this key's answer (a stream's until its first chunk). */
  inFlight = 0;
  /** Until when the key rests, by model: OpenAI's rate limits are the organization's per model. */
  readonly restingUntil = new Map<string, number>();
  out?: OutOfService;
  probing = false;
  /** Smooth weighted round robin: the key with the highest current weight is chosen, then gives up the total. */
  currentWeight = 0;

  constructor(
    readonly upstream: PoolUpstream,
    readonly name: string,
    readonly weight: number,
    readonly rotation: UpstreamKeyManager,
    readonly expect?: ExpectedAccount,
  ) {}

  /** For `model`, or, without one, for any model. */
  state(now: number, model?: string): KeyState {
    if (this.out) return 'out';
    return this.restsUntil(model) > now ? 'resting' : 'ready';
  }

  /** When the rest for `model` ends (for any model: the last one); 0 when it does not rest. */
  restsUntil(model?: string): number {
    if (model !== undefined) return this.restingUntil.get(model) ?? 0;
    return Math.max(0, ...this.restingUntil.values());
  }

  /** An out key whose probe time has come, which no other call is probing. */
  mayProbe(now: number): boolean {
    return this.out?.probeAt !== undefined && this.out.probeAt <= now && !this.probing;
  }

  /** Ready for `model` now, or due for a probe. */
  canTake(now: number, model: string): boolean {
    return this.state(now, model) === 'ready' || this.mayProbe(now);
  }
}

export class PoolUpstream implements UpstreamEndpoint {
  readonly name: string;
  readonly kind: UpstreamEndpoint['kind'];
  readonly baseURL: string;
  readonly deployments?: Record<string, string>;
  readonly apiVersion?: string;
  readonly organization?: string;
  keys: PooledKey[] = [];

  constructor(resolved: ResolvedUpstream) {
    this.name = resolved.name;
    this.kind = resolved.kind;
    this.baseURL = resolved.baseURL;
    this.deployments = resolved.deployments;
    this.apiVersion = resolved.apiVersion;
    this.organization = resolved.organization;
  }
}

/** Where the next attempt goes (`probe`: to an out key, to see whether it is back), or why none can be made now. */
export type KeyChoice = { key: PooledKey; breaker: ModelBreaker; probe: boolean } | { refusal: AiError };

/** What may be shown of a key anywhere: never its value. */
export interface PooledKeyStatus extends UpstreamKeyStatus {
  upstream: string;
  key: string;
  weight: number;
  state: KeyState;
  inFlight: number;
  restingUntil?: string;
  out?: { reason: KeyOutReason; since: string; probeAt?: string; detail?: string };
}

/**
 * The upstreams and their keys. A call's attempt goes to the first upstream of the model's route whose breaker lets
 * calls through and that has a ready key; among that upstream's ready keys the choice is weighted (smooth weighted
 * round robin), the least busy first among equals. A 429 rests a key for its model until its Retry-After; an exhausted
 * account, a refusal (401) or a wrong account takes it out (see PooledKey, takeOut).
 */
@Injectable()
export class UpstreamPool implements OnApplicationShutdown {
  private readonly logger = new Logger('UpstreamPool');
  readonly upstreams: PoolUpstream[];
  private readonly routes: Record<string, PoolUpstream[]>;
  /** Scrubs every key's current and previous value, and anything shaped like a credential, from upstream text. */
  readonly scrubber: SecretScrubber;

  constructor(
    @Inject(UPSTREAM_POOL_OPTIONS) options: UpstreamPoolOptions,
    @Inject(SECRET_OPTIONS) secrets: SecretOptions,
    @Inject(BREAKER_OPTIONS) private readonly breakerOptions: BreakerOptions,
    @InjectClock() private readonly clock: Clock,
    private readonly events: UpstreamEvents,
  ) {
    const several = options.upstreams.length > 1 || options.upstreams[0].keys.length > 1;
    this.upstreams = options.upstreams.map((resolved) => {
      const upstream = new PoolUpstream(resolved);
      upstream.keys = resolved.keys.map((key) => {
        const label = several ? `${upstream.name}/${key.name}` : undefined;
        return new PooledKey(upstream, key.name, key.weight, new UpstreamKeyManager(key.secretProvider, clock, secrets, label), key.expect);
      });
      return upstream;
    });
    const byName = new Map(this.upstreams.map((upstream) => [upstream.name, upstream]));
    this.routes = Object.create(null) as Record<string, PoolUpstream[]>;
    for (const [model, names] of Object.entries(options.routes)) this.routes[model] = names.map((name) => byName.get(name)!);
    this.scrubber = new SecretScrubber(() => this.keys().flatMap((key) => key.rotation.values()));
    for (const key of this.keys()) key.rotation.onRefresh((outcome) => outcome === 'rotated' && this.restoreIfRotated(key));
  }

  /** Reads every key once; start-up fails here, naming the upstream, the key and the secret, when one cannot be read. */
  async load(): Promise<void> {
    await Promise.all(this.keys().map((key) => key.rotation.load()));
  }

  keys(): PooledKey[] {
    return this.upstreams.flatMap((upstream) => upstream.keys);
  }

  /** The upstreams that serve `model`, in the order they are tried. */
  routeOf(model: string): PoolUpstream[] {
    return Object.hasOwn(this.routes, model) ? this.routes[model] : this.upstreams;
  }

  /**
   * The key for a call's next attempt at `model`, skipping `excluded` (the keys this call found wanting); the upstreams
   * in `failed` (that failed this call) come after the route's others; `waitedUntil`: the call has waited until then, so
   * that rests ending by then are over even on a clock a moment behind.
   */
  choose(model: string, breakers: Breakers, excluded: ReadonlySet<PooledKey> = new Set(), failed: ReadonlySet<string> = new Set(), waitedUntil = 0): KeyChoice {
    const now = Math.max(this.clock.now(), waitedUntil);
    const route = this.routeOf(model);
    const inOrder = failed.size === 0 ? route : [...route.filter((upstream) => !failed.has(upstream.name)), ...route.filter((upstream) => failed.has(upstream.name))];
    const open: ModelBreaker[] = [];
    for (const upstream of inOrder) {
      const breaker = breakers.forModel(model, upstream.name);
      if (!breaker.allowsCalls()) {
        open.push(breaker);
        continue;
      }
      const candidates = upstream.keys.filter((key) => !excluded.has(key));
      const probe = candidates.find((key) => key.mayProbe(now));
      if (probe) {
        probe.probing = true;
        return { key: probe, breaker, probe: true };
      }
      const key = weightedChoice(candidates.filter((candidate) => candidate.state(now, model) === 'ready'));
      if (key) return { key, breaker, probe: false };
    }
    return { refusal: this.refusal(model, route, open, now) };
  }

  /** Whether another attempt at `model` could go to a ready key now, without waiting. */
  hasReadyKey(model: string, breakers: Breakers, excluded: ReadonlySet<PooledKey>): boolean {
    const now = this.clock.now();
    return this.routeOf(model).some(
      (upstream) =>
        breakers.forModel(model, upstream.name).allowsCalls() &&
        upstream.keys.some((key) => !excluded.has(key) && key.canTake(now, model)),
    );
  }

  /** When every upstream of the route has its breaker for `model` open: the breaker that half-opens first. */
  openBreaker(model: string, breakers: Breakers): ModelBreaker | undefined {
    const route = this.routeOf(model).map((upstream) => breakers.forModel(model, upstream.name));
    return route.every((breaker) => !breaker.allowsCalls()) ? soonestToHalfOpen(route) : undefined;
  }

  /** The upstream rate limits this key for `model`: it rests until the upstream's Retry-After, when the upstream names one. */
  rest(key: PooledKey, model: string, retryAfterMs: number | undefined): void {
    if (retryAfterMs === undefined) return;
    key.restingUntil.set(model, Math.max(key.restsUntil(model), this.clock.now() + retryAfterMs));
    this.events.keyRested.emit({ upstream: key.upstream.name, key: key.name, retryAfterMs });
  }

  /**
   * The key cannot serve: out of credit or refused (probed again every breaker reset period), or answering for the
   * wrong account. Any of them comes back when its secret changes.
   */
  takeOut(key: PooledKey, reason: KeyOutReason, detail?: string): void {
    const now = this.clock.now();
    const probeAt = PROBED_REASONS.has(reason) ? now + this.breakerOptions.resetTimeoutMs : undefined;
    const before = key.out;
    const fingerprint = key.rotation.status().fingerprint;
    key.out = { reason, since: before?.since ?? now, probeAt, detail, fingerprint };
    key.probing = false;
    if (before?.reason === reason) return;
    this.logger.error(`Upstream ${key.upstream.name}, key ${key.name} (fingerprint ${fingerprint}) taken out: ${detail ?? reason}`);
    this.events.keyStateChanged.emit({ upstream: key.upstream.name, key: key.name, state: 'out', reason });
  }

  /**
   * An attempt through `key` was answered: the wrong-key guard reads the account it answered for, and a probe
   * (`probe`, the one attempt let through to an out key) brings the key back.
   */
  answered(key: PooledKey, account: UpstreamAccount | undefined, probe: boolean): void {
    const wrong = wrongAccount(key.expect, account);
    if (wrong) return this.takeOut(key, 'wrong_account', wrong);
    if (probe) this.restore(key, 'a probe call succeeded');
  }

  /** An attempt through `key` failed; a failed probe waits another reset period for the next one. */
  attemptFailed(key: PooledKey, probe: boolean): void {
    if (!probe) return;
    key.probing = false;
    if (key.out?.probeAt !== undefined) key.out.probeAt = this.clock.now() + this.breakerOptions.resetTimeoutMs;
  }

  /**
   * Re-reads every key now (an operator asked): a key out of credit or refused comes back (the operator says it is
   * fixed); a wrong account's only if the read found a new secret, which its rotation's listener sees to.
   */
  async refreshAll(): Promise<RefreshOutcome[]> {
    return Promise.all(
      this.keys().map(async (key) => {
        const outcome = await key.rotation.refresh();
        if (key.out && PROBED_REASONS.has(key.out.reason)) this.restore(key, 'an operator refreshed it');
        return outcome;
      }),
    );
  }

  /** A key out since an older secret comes back once its rotation read a new one (a re-read, a file change). */
  private restoreIfRotated(key: PooledKey): void {
    if (key.out && key.rotation.status().fingerprint !== key.out.fingerprint) this.restore(key, 'its secret changed');
  }

  statuses(): PooledKeyStatus[] {
    return this.keys().map((key) => ({ upstream: key.upstream.name, key: key.name, weight: key.weight, inFlight: key.inFlight, ...this.statusOf(key), ...key.rotation.status() }));
  }

  /** A key's state now, and since when it rests or why it is out. */
  statusOf(key: PooledKey): Pick<PooledKeyStatus, 'state' | 'restingUntil' | 'out'> {
    const now = this.clock.now();
    return {
      state: key.state(now),
      restingUntil: key.restsUntil() > now ? isoTime(key.restsUntil()) : undefined,
      out: key.out && { reason: key.out.reason, since: isoTime(key.out.since), probeAt: key.out.probeAt === undefined ? undefined : isoTime(key.out.probeAt), detail: key.out.detail },
    };
  }

  onApplicationShutdown(): void {
    for (const key of this.keys()) key.rotation.onApplicationShutdown();
  }

  private restore(key: PooledKey, why: string): void {
    if (!key.out) return;
    key.out = undefined;
    key.probing = false;
    this.logger.log(`Upstream ${key.upstream.name}, key ${key.name} is back in service: ${why}`);
    this.events.keyStateChanged.emit({ upstream: key.upstream.name, key: key.name, state: 'ready' });
  }

  /** No key can take the call now: every breaker open, every key resting (the shortest wait), or every key out. */
  private refusal(model: string, route: PoolUpstream[], open: ModelBreaker[], now: number): AiError {
    const keys = route.filter((upstream) => !open.some((breaker) => breaker.upstream === upstream.name)).flatMap((upstream) => upstream.keys);
    if (keys.length === 0) return soonestToHalfOpen(open).rejection();
    const rests = keys.filter((key) => key.state(now, model) === 'resting').map((key) => key.restsUntil(model) - now);
    // Not waited out in the call: it would hold the tenant's slot and reservation, and every such call would wake at once.
    if (rests.length > 0) return new UpstreamRateLimitedError({ retryAfterMs: Math.min(...rests) }, { retryable: false });
    const exhausted = keys.filter((key) => key.out?.reason === 'insufficient_quota').map((key) => key.out!.probeAt!);
    if (exhausted.length > 0) return new UpstreamQuotaExhaustedError({ retryAfterMs: Math.max(1000, Math.min(...exhausted) - now) });
    return new UpstreamAuthFailedError();
  }
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

function soonestToHalfOpen(breakers: ModelBreaker[]): ModelBreaker {
  return breakers.reduce((soonest, breaker) => (breaker.msUntilHalfOpen() < soonest.msUntilHalfOpen() ? breaker : soonest));
}

/** Smooth weighted round robin (as nginx balances), the least busy first among keys of equal current weight. */
function weightedChoice(keys: PooledKey[]): PooledKey | undefined {
  if (keys.length <= 1) return keys[0];
  let total = 0;
  let chosen: PooledKey | undefined;
  for (const key of keys) {
    key.currentWeight += key.weight;
    total += key.weight;
    if (!chosen || key.currentWeight > chosen.currentWeight || (key.currentWeight === chosen.currentWeight && key.inFlight < chosen.inFlight)) {
      chosen = key;
    }
  }
  chosen!.currentWeight -= total;
  return chosen;
}

/** What is wrong with the account a key answered for, or undefined when it is the one expected (or not known). */
function wrongAccount(expect: ExpectedAccount | undefined, account: UpstreamAccount | undefined): string | undefined {
  if (!expect || !account) return undefined;
  if (expect.organization !== undefined && account.organization !== undefined && account.organization !== expect.organization) {
    return `it answers for organization ${account.organization}, not ${expect.organization}`;
  }
  if (expect.project !== undefined && account.project !== undefined && account.project !== expect.project) {
    return `it answers for project ${account.project}, not ${expect.project}`;
  }
  return undefined;
}
