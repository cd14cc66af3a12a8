import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { OpenAiErrorFields } from './gateway-http.exception';

/** What slow or idle clients may hold of the server (HTTP_* variables). */
export interface HttpServerLimits {
  /** To receive a request's headers, counted from its first byte or, on a new connection, from the connection. */
  headersTimeoutMs: number;
  /** To receive a whole request, headers and body; the answer may take as long as the call does. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs: number;
  /** Connections open at once; the server drops the ones beyond. */
  maxConnections: number;
}

/** How often Node looks for requests past their timeouts: at most a quarter of the shortest one late. */
const MAX_TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * The Fastify options for the errors it answers itself, before any route: every one in OpenAI's
 * shape. `return503OnClosing` is off because Fastify's own 503 has neither that shape nor a
 * Retry-After: close-connections-on-shutdown.ts answers it.
 */
export const FASTIFY_EDGE_OPTIONS: Pick<FastifyServerOptions, 'clientErrorHandler' | 'frameworkErrors' | 'return503OnClosing'> = {
  clientErrorHandler: answerClientError,
  frameworkErrors: answerFrameworkError,
  return503OnClosing: false,
};

/**
 * Bounds what slow and idle clients hold: Fastify leaves the request timeout at 0, and Node checks
 * the timeouts only every 30 s, so that 1,500 slow bodies stayed open for minutes.
 */
export function limitHttpServer(app: NestFastifyApplication, limits: HttpServerLimits): void {
  const server = app.getHttpServer() as Server & { connectionsCheckingInterval: number };
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // Read by Node when the server starts listening.
  server.connectionsCheckingInterval = Math.max(10, Math.min(MAX_TIMEOUT_CHECK_INTERVAL_MS, Math.floor(limits.headersTimeoutMs / 4)));
}

interface ClientErrorAnswer {
  status: number;
  reason: string;
  message: string;
}

function clientErrorAnswer(error: NodeJS.ErrnoException): ClientErrorAnswer {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', message: 'The request was not received in time: the gateway closed the connection.' };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', message: "The request's headers are larger than this gateway accepts." };
    default:
      return { status: 400, reason: 'Bad Request', message: 'The gateway could not read this HTTP request: its request line or headers are malformed.' };
  }
}

/** Node's HTTP parser failed on the request or it timed out: answered on the raw socket, which is then closed. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable && !isAnswering(socket)) {
    const { status, reason, message } = clientErrorAnswer(error);
    const body = JSON.stringify(openAiError(message));
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** A response already under way on this socket (Node keeps it there) cannot be followed by another. */
function isAnswering(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
}

function openAiError(message: string): { error: OpenAiErrorFields } {
  return { error: { message, type: 'invalid_request_error', code: null, param: null } };
}

/** A URL Fastify's router cannot read (bad percent-encoding, a parameter too long). */
function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter of this URL is too long.' : 'The URL of this request is malformed: check its percent-encoding.';
  void reply.status(status).send(openAiError(message));
}
