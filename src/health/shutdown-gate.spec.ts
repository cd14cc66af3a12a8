import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { GATEWAY_CONFIG, loadGatewayConfig } from '../config/gateway-config';
import { ShutdownGate } from './shutdown-gate';

const PRODUCTION = { NODE_ENV: 'production', OPENAI_API_KEY: 'sk-shutdown-0123456789', ADMIN_TOKEN: 'admin-token-0123456789', METRICS_TOKEN: 'metrics-token-0123456789' };

describe(ShutdownGate.name, () => {
  const gateFor = (env: Record<string, string>) =>
    new ShutdownGate(new ConfigService({ [GATEWAY_CONFIG]: loadGatewayConfig({ DATABASE_URL: 'sqlite::memory:', ...env }) }), new HealthIndicatorService());

  /** Whether the shutdown step has finished once the fake clock has run `ms`. */
  const closedAfter = async (closing: Promise<void>, ms: number) => {
    let closed = false;
    void closing.then(() => (closed = true));
    await jest.advanceTimersByTimeAsync(ms);
    return closed;
  };

  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it.each(['SIGINT', 'SIGTERM'])('should let %s close at once in development, readiness down', async (signal) => {
    const gate = gateFor({ NODE_ENV: 'development' });

    const closed = await closedAfter(gate.beforeApplicationShutdown(signal), 0);

    expect(closed).toBe(true);
    expect(gate.acceptingTraffic).toBe(false);
  });

  it('should keep serving for 5 s after SIGTERM in production, readiness down from the start', async () => {
    const gate = gateFor(PRODUCTION);
    const closing = gate.beforeApplicationShutdown('SIGTERM');

    expect(await closedAfter(closing, 4_999)).toBe(false);
    expect(gate.check()).toEqual({ shutdown: { status: 'down', message: 'shutting down' } });
    expect(await closedAfter(closing, 1)).toBe(true);
  });

  it('should wait as SHUTDOWN_READINESS_DELAY_MS says outside production too, when it is set', async () => {
    const gate = gateFor({ NODE_ENV: 'development', SHUTDOWN_READINESS_DELAY_MS: '1500' });
    const closing = gate.beforeApplicationShutdown('SIGINT');

    expect(await closedAfter(closing, 1_499)).toBe(false);
    expect(await closedAfter(closing, 1)).toBe(true);
  });

  it('should not wait for a programmatic close, even in production', async () => {
    expect(await closedAfter(gateFor(PRODUCTION).beforeApplicationShutdown(), 0)).toBe(true);
  });
});
