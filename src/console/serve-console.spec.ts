import { Logger, Module } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseResponses, rawConnection } from '../../test/support/raw-http';
import { OpenAiErrorFilter } from '../http/openai-error.filter';
import { CONSOLE_CONTENT_SECURITY_POLICY, ConsoleOptions, serveConsole } from './serve-console';

@Module({})
class EmptyModule {}

/** The Fastify edge alone (no gateway behind it), with the gateway's error filter, serving a build in a temporary folder. */
async function anAppServing(options: ConsoleOptions): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(EmptyModule, new FastifyAdapter(), { logger: false });
  app.useGlobalFilters(new OpenAiErrorFilter(app.get(HttpAdapterHost)));
  serveConsole(app, options);
  await app.init();
  return app;
}

describe(serveConsole.name, () => {
  let build: string;
  let app: NestFastifyApplication | undefined;

  beforeAll(() => {
    build = mkdtempSync(join(tmpdir(), 'tollgate-console-'));
    mkdirSync(join(build, 'assets'));
    writeFileSync(join(build, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(build, 'assets', 'index-AbC123.js'), 'export {};');
    writeFileSync(join(build, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    jest.restoreAllMocks();
  });
  afterAll(() => rmSync(build, { recursive: true, force: true }));

  const get = (url: string, headers: Record<string, string> = {}) => app!.inject({ method: 'GET', url, headers });

  describe('with a build', () => {
    beforeEach(async () => {
      app = await anAppServing({ enabled: true, root: build });
    });

    it.each(['/console', '/console/', '/console/index.html', '/console?from=bookmark'])('should serve index.html at %s, revalidated at every load', async (url) => {
      const response = await get(url);

      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.body).toContain('<title>console</title>');
      expect(response.headers['cache-control']).toBe('no-cache');
      expect(response.headers['content-security-policy']).toBe(CONSOLE_CONTENT_SECURITY_POLICY);
    });

    it('should let browsers keep a hashed asset for a year, with the same policy', async () => {
      const response = await get('/console/assets/index-AbC123.js');

      expect(response.statusCode).toBe(200);
      expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(response.headers['content-security-policy']).toBe(CONSOLE_CONTENT_SECURITY_POLICY);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });

    it('should revalidate a file outside assets/, whose name does not change with its content', async () => {
      expect((await get('/console/favicon.svg')).headers['cache-control']).toBe('no-cache');
    });

    it('should allow no inline script, no other origin and no frame', () => {
      expect(CONSOLE_CONTENT_SECURITY_POLICY.split('; ')).toEqual(expect.arrayContaining(["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"]));
      expect(CONSOLE_CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    });

    it.each(['/console/missing.js', '/consoles', '/consoleindex.html'])('should answer %s with a 404 in OpenAI’s shape, like any unknown route', async (url) => {
      const response = await get(url);

      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ error: { message: `Cannot GET ${url}`, type: 'invalid_request_error', code: null, param: null } });
    });

    it('should refuse a path out of the build with a 4xx, not an unexpected 500', async () => {
      // Over a socket: an HTTP client (and inject) would resolve the dots before sending.
      await app!.listen({ port: 0, host: '127.0.0.1' });
      const connection = await rawConnection(await app!.getUrl());
      connection.send('GET /console/%2e%2e/%2e%2e/package.json HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n');

      const [response] = parseResponses(await connection.receivedWhenClosed());

      expect(response.status).toBe(403);
      expect(JSON.parse(response.body).error).toMatchObject({ type: 'invalid_request_error', code: null });
    });
  });

  describe('without a build', () => {
    it('should start, warn once, and answer /console with a 503 that says how to build it', async () => {
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      app = await anAppServing({ enabled: true, root: join(build, 'nowhere') });

      const responses = await Promise.all(['/console', '/console/', '/console/assets/index-AbC123.js'].map((url) => get(url)));

      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toContain('npm run build:console');
      for (const response of responses) {
        expect(response.statusCode).toBe(503);
        expect(response.json()).toEqual({
          error: { message: 'The admin console is not built: run `npm run build:console`, then restart the gateway.', type: 'server_error', code: 'console_not_built', param: null },
        });
      }
    });
  });

  describe('when disabled', () => {
    it('should leave /console an unknown route, even with a build', async () => {
      app = await anAppServing({ enabled: false, root: build });

      const response = await get('/console');

      expect(response.statusCode).toBe(404);
      expect(response.json().error).toMatchObject({ message: 'Cannot GET /console', type: 'invalid_request_error' });
    });
  });
});
