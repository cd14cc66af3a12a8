import fastifyStatic, { SetHeadersResponse } from '@fastify/static';
import { Logger } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { GatewayHttpException } from '../http/gateway-http.exception';

/** Where `npm run build:console` writes the console: the same folder from src/console and from dist/console. */
export const CONSOLE_BUILD = join(__dirname, '..', '..', 'console', 'dist');

/**
 * The console's own files and nothing else: no inline script or style, no other origin, no frame around
 * it, and no form that could submit (a form sent before the script ran would put its fields in a URL).
 */
export const CONSOLE_CONTENT_SECURITY_POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const FOREVER = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/** `/console`, `/console/`, `/console/…` and `/console?…`, but not `/consoles`. */
const CONSOLE_PATH = /^\/console(?:[/?]|$)/;

export interface ConsoleOptions {
  /** CONSOLE_ENABLED: off, /console is an unknown route like any other. */
  enabled: boolean;
  /** The built console. @default CONSOLE_BUILD */
  root?: string;
}

/**
 * Serves the admin console's built files under /console, index.html for `/console` and `/console/`.
 * A gateway without the build still starts: /console then answers 503 saying how to build it.
 */
export function serveConsole(app: NestFastifyApplication, { enabled, root = CONSOLE_BUILD }: ConsoleOptions): void {
  if (!enabled) return;
  const fastify = app.getHttpAdapter().getInstance();
  if (existsSync(join(root, 'index.html'))) serveBuild(fastify, root);
  else answerNotBuilt(fastify, root);
}

function serveBuild(fastify: FastifyInstance, root: string): void {
  void fastify.register(async (scope) => {
    // @fastify/send refuses a path out of the root (403) or a bad range (416) with a plain error: answered as
    // the 4xx it is, through the gateway's error filter, instead of an unexpected 500.
    scope.setErrorHandler((error: Error & { statusCode?: number }) => {
      const status = error.statusCode ?? 500;
      if (status >= 500) throw error;
      throw new GatewayHttpException(status, { message: `The console cannot serve this path: ${error.message}.`, type: 'invalid_request_error', code: null, param: null });
    });
    await scope.register(fastifyStatic, {
      root,
      // The route is `/console*`, so that `/console` without its slash serves index.html too; allowedPath keeps it to /console.
      prefix: '/console',
      prefixAvoidTrailingSlash: true,
      allowedPath: (_pathname, _root, request) => CONSOLE_PATH.test(request.url),
      index: ['index.html'],
      // @nestjs/swagger registers this plugin too: only one of them may decorate the reply.
      decorateReply: false,
      cacheControl: false,
      setHeaders: consoleHeaders(root),
    });
  });
}

function answerNotBuilt(fastify: FastifyInstance, root: string): void {
  new Logger('Console').warn(`The admin console is not built (no ${join(root, 'index.html')}): /console answers 503 until \`npm run build:console\` has run.`);
  const notBuilt = (): never => {
    throw new GatewayHttpException(503, {
      message: 'The admin console is not built: run `npm run build:console`, then restart the gateway.',
      type: 'server_error',
      code: 'console_not_built',
      param: null,
    });
  };
  fastify.get('/console', notBuilt);
  fastify.get('/console/*', notBuilt);
}

function consoleHeaders(root: string): (response: SetHeadersResponse, path: string) => void {
  // Vite names every file under assets/ after its content: such a file never changes, while index.html must be asked for again.
  const hashedAssets = join(root, 'assets') + sep;
  return (response, path) => {
    response.setHeader('content-security-policy', CONSOLE_CONTENT_SECURITY_POLICY);
    response.setHeader('cache-control', path.startsWith(hashedAssets) ? FOREVER : REVALIDATE);
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('referrer-policy', 'no-referrer');
  };
}
