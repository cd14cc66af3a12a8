import { fingerprintOf, UpstreamPool } from '@tollgate/ai';
import { RunningSimulator, startSimulator } from '@tollgate/simulator';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../src/create-gateway';
import { CapturedLog } from './support/captured-log';
import { ADMIN_TOKEN, aUserMessage, createTenant, eventually, FAST_POLICIES, tenantClient } from './support/gateway-harness';

const FIRST_KEY = 'sk-file-first-aaaaaaaaaaaaaaaaaaaa';
const SECOND_KEY = 'sk-file-second-bbbbbbbbbbbbbbbbbbb';

/** The upstream key from a mounted file, rotated without a restart, and never written to a log. */
describe('Upstream key from a mounted file', () => {
  let simulator: RunningSimulator;
  let folder: string;
  const log = new CapturedLog();

  beforeAll(async () => {
    simulator = await startSimulator({ acceptedKeys: [FIRST_KEY] });
    folder = mkdtempSync(join(tmpdir(), 'tollgate-key-'));
  });
  afterAll(() => simulator.close());

  const start = (env: Record<string, string>) =>
    createGateway(
      { NODE_ENV: 'test', OPENAI_BASE_URL: simulator.url, ADMIN_TOKEN, DATABASE_URL: 'sqlite::memory:', ...FAST_POLICIES, AI_SECRET_PROVIDER: 'file', ...env },
      { log },
    );

  it('should serve with the key in the file, then with the new one after the file is rewritten', async () => {
    const keyFile = join(folder, 'openai-key');
    writeFileSync(keyFile, `${FIRST_KEY}\n`);
    const app = await start({ OPENAI_API_KEY_FILE: keyFile });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const client = tenantClient(await app.getUrl(), { apiKey: await createTenant(app, 'file-rotation') });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

    writeFileSync(keyFile, `${SECOND_KEY}\n`);
    simulator.setAcceptedKeys([SECOND_KEY]);
    await eventually(() => expect(app.get(UpstreamPool).keys()[0].rotation.status().fingerprint).toBe(fingerprintOf(SECOND_KEY)));

    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() })).resolves.toMatchObject({ object: 'chat.completion' });
    expect(simulator.calls().map((call) => call.authorized)).toEqual([true, true]);
    await app.close();
  });

  it('should pick up a rotated key on the next upstream 401 even before the file watch fires', async () => {
    simulator.reset();
    simulator.setAcceptedKeys([FIRST_KEY]);
    const keyFile = join(folder, 'openai-key-2');
    writeFileSync(keyFile, FIRST_KEY);
    const app = await start({ OPENAI_API_KEY_FILE: keyFile });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const client = tenantClient(await app.getUrl(), { apiKey: await createTenant(app, 'file-401') });
    app.get(UpstreamPool).onApplicationShutdown(); // no watch, no timer: only the 401 can trigger the re-read

    writeFileSync(keyFile, SECOND_KEY);
    simulator.setAcceptedKeys([SECOND_KEY]);
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() });

    expect(simulator.calls().map((call) => call.authorized)).toEqual([false, true]);
    await app.close();
  });

  it('should refuse to start when the key file is missing, naming the file', async () => {
    await expect(start({ OPENAI_API_KEY_FILE: join(folder, 'absent') })).rejects.toThrow(/the file .*absent: it does not exist/);
  });

  it('should refuse to start when AI_SECRET_PROVIDER=file has no OPENAI_API_KEY_FILE, naming the variable', async () => {
    await expect(start({})).rejects.toThrow(/OPENAI_API_KEY_FILE is required with AI_SECRET_PROVIDER=file/);
  });

  it('should have written no key to any log line, only fingerprints', () => {
    const everything = log.lines.join('\n');

    expect(everything).toContain(`fingerprint ${fingerprintOf(SECOND_KEY)}`);
    expect(everything).not.toContain(FIRST_KEY);
    expect(everything).not.toContain(SECOND_KEY);
  });
});
