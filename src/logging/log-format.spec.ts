import { SecretScrubber } from '@tollgate/ai';
import pino from 'pino';
import { CapturedLog } from '../../test/support/captured-log';
import { loadGatewayConfig } from '../config/gateway-config';
import { prettyDestination } from './log-format';
import { scrubbingDestination } from './scrubbing-destination';

const ADMIN_TOKEN = 'known-admin-token-0123456789';
const PRODUCTION = { NODE_ENV: 'production', OPENAI_API_KEY: 'sk-log-format-0123456789', ADMIN_TOKEN, METRICS_TOKEN: 'metrics-token-0123456789' };

describe(prettyDestination.name, () => {
  let printed: CapturedLog;
  /** As LoggingModule writes stdout in the pretty format: scrubbed as JSON, then made readable. */
  const prettyLogger = () => pino({ level: 'info' }, scrubbingDestination(new SecretScrubber(() => [ADMIN_TOKEN]), prettyDestination(printed)));

  beforeEach(() => {
    printed = new CapturedLog();
  });

  it('should print the time, the level and the context before the message, the other fields after it, on one line', () => {
    prettyLogger().child({ context: 'Upstream' }).warn({ upstream: 'openai', attempts: 2 }, 'the key is about to expire');

    expect(printed.lines).toEqual([expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[Upstream\] the key is about to expire \{"upstream":"openai","attempts":2\}\n$/)]);
  });

  it('should print an error with its stack below the message', () => {
    prettyLogger().error({ err: new Error('the queue is gone') }, 'jobs stopped');

    expect(printed.lines[0]).toMatch(/ERROR: jobs stopped\s*\n(.|\n)*Error: the queue is gone\n\s+at /);
  });

  it('should print no secret: the line is scrubbed before it is made readable', () => {
    prettyLogger().info({ header: `Bearer ${ADMIN_TOKEN}` }, `refused ${ADMIN_TOKEN} and sk-proj-0123456789abcdef`);

    expect(printed.lines[0]).toContain('refused [redacted] and [redacted]');
    expect(printed.lines[0]).not.toContain(ADMIN_TOKEN);
    expect(printed.lines[0]).not.toContain('sk-proj-');
  });
});

describe('LOG_FORMAT', () => {
  it('should be pretty outside production and JSON in production by default', () => {
    expect(loadGatewayConfig({ NODE_ENV: 'development' }).logFormat).toBe('pretty');
    expect(loadGatewayConfig({ NODE_ENV: 'test' }).logFormat).toBe('pretty');
    expect(loadGatewayConfig(PRODUCTION).logFormat).toBe('json');
  });

  it('should win when set', () => {
    expect(loadGatewayConfig({ NODE_ENV: 'development', LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadGatewayConfig({ ...PRODUCTION, LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
  });

  it('should refuse another format, naming the variable', () => {
    expect(() => loadGatewayConfig({ LOG_FORMAT: 'yaml' })).toThrow('LOG_FORMAT must be json or pretty');
  });
});
