import { Logger } from '@nestjs/common';
import { ECHOED_KEY_SHAPED_TOKEN } from '@tollgate/simulator';
import OpenAI from 'openai';
import {
  ADMIN_TOKEN,
  aUserMessage,
  expectNoSecretIn,
  GatewayUnderTest,
  rejectionOf,
  startGatewayWithSimulator,
  UPSTREAM_KEY,
} from './support/gateway-harness';
import { JobsClient } from './support/jobs-client';

/**
 * An upstream (or a proxy before it) that quotes the request's Authorization header back in its
 * error message: whatever path the message takes to the tenant or to the log, no key goes with it.
 */
describe('Secrets in upstream messages', () => {
  let gateway: GatewayUnderTest;
  let secrets: string[];

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator({ AI_JOBS_POLL_INTERVAL_MS: '50' });
    secrets = [UPSTREAM_KEY, ECHOED_KEY_SHAPED_TOKEN, ADMIN_TOKEN, gateway.tenantKey];
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  const expectNoSecretInText = (text: string) => expectNoSecretIn([text], secrets);

  it('should relay the upstream 400 to the tenant with the key and any key-shaped token redacted', async () => {
    gateway.simulator.enqueueFaults({ preset: 'echo_auth' });

    const error = await rejectionOf(gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }));

    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expectNoSecretInText(JSON.stringify(error.error));
    expect(error.message).toContain("Invalid header 'Authorization: Bearer [redacted]'");
    expect(error.message).toContain('the one of key [redacted].');
  });

  it('should redact the upstream message of an in-stream error event, sent after the first chunks', async () => {
    gateway.simulator.enqueueFaults({ preset: 'echo_auth', failAfterChunks: 2 });
    const stream = await gateway.client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage(), stream: true });
    let chunks = 0;

    const failure = await rejectionOf(
      (async () => {
        for await (const _chunk of stream) chunks++;
      })(),
    );

    expect(chunks).toBeGreaterThanOrEqual(1);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expectNoSecretInText(`${failure.message} ${JSON.stringify(failure.error)}`);
  });

  it('should store the error of an async job with the key redacted', async () => {
    const jobs = new JobsClient(gateway.url, gateway.tenantKey);
    gateway.simulator.enqueueFaults({ preset: 'echo_auth' });

    const { body: submitted } = await jobs.submit({ model: 'gpt-4o-mini', messages: aUserMessage() });
    const job = await jobs.finished(submitted.id);
    const { body: record } = await jobs.get(submitted.id);

    expect(job.status).toBe('failed');
    expect(record.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('[redacted]') });
    expectNoSecretInText(JSON.stringify(record));
  });

  it('should scrub a log line that holds a secret, whoever logs it', () => {
    new Logger('Leaky').warn(`the upstream said: Authorization: Bearer ${UPSTREAM_KEY}; also ${ECHOED_KEY_SHAPED_TOKEN}, ${gateway.tenantKey}, ${ADMIN_TOKEN}`);

    const line = gateway.log.lines.find((candidate) => candidate.includes('the upstream said'));
    expect(line).toBeDefined();
    expectNoSecretIn([line!], secrets);
    expect(JSON.parse(line!).msg).toBe('the upstream said: Authorization: Bearer [redacted]; also [redacted], [redacted], [redacted]');
  });

  it('should log no secret on any path above', () => {
    expect(gateway.log.lines.length).toBeGreaterThan(0);
    expectNoSecretIn(gateway.log.lines, secrets);
  });
});
