import Fastify, { FastifyInstance } from 'fastify';
import pino from 'pino';
import { eventually } from '../../libs/ai/test/async';
import { CapturedLog } from '../../test/support/captured-log';
import { annotateRequestLog, logRequests } from './request-log';

describe(logRequests.name, () => {
  let fastify: FastifyInstance;
  let log: CapturedLog;
  let url: string;

  async function serve(level = 'info'): Promise<void> {
    log = new CapturedLog();
    fastify = Fastify();
    logRequests(fastify, pino({ level }, log));
    fastify.get('/served', async (request) => {
      annotateRequestLog(request.raw, { tenant: 'acme', outcome: 'success' });
      annotateRequestLog(request.raw, { attempts: 2 });
      return { ok: true };
    });
    fastify.get('/refused', async (_request, reply) => reply.code(401).send({}));
    fastify.get('/broken', async (_request, reply) => reply.code(503).send({}));
    fastify.get('/health/live', async () => ({ status: 'ok' }));
    url = await fastify.listen({ port: 0, host: '127.0.0.1' });
  }

  afterEach(() => fastify.close());

  const lineOf = async (path: string) => {
    await fetch(`${url}${path}`).then((response) => response.text());
    await eventually(() => expect(log.requests()).toHaveLength(1));
    return log.requests()[0];
  };

  it('should write one line when the response ends, with the fields the request was annotated with', async () => {
    await serve();

    const line = await lineOf('/served?page=2');

    expect(line).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: process.pid,
      hostname: expect.any(String),
      requestId: expect.any(String),
      req: { method: 'GET', url: '/served?page=2' },
      res: { statusCode: 200 },
      latencyMs: expect.any(Number),
      tenant: 'acme',
      outcome: 'success',
      attempts: 2,
      msg: 'request completed',
    });
  });

  it('should name the outcome of a request nobody annotated after its status', async () => {
    await serve();

    expect(await lineOf('/refused')).toMatchObject({ level: 30, res: { statusCode: 401 }, outcome: 'http_401', msg: 'request completed' });
  });

  it('should log a 5xx at error level as a failed request', async () => {
    await serve();

    expect(await lineOf('/broken')).toMatchObject({ level: 50, res: { statusCode: 503 }, msg: 'request failed' });
  });

  it('should not log probes', async () => {
    await serve();
    await fetch(`${url}/health/live`).then((response) => response.text());

    expect(await lineOf('/served')).toMatchObject({ req: { method: 'GET', url: '/served' } });
  });

  it('should still log failures at warn, and nothing at all above error', async () => {
    await serve('warn');
    await fetch(`${url}/served`).then((response) => response.text());
    expect(await lineOf('/broken')).toMatchObject({ level: 50 });
    await fastify.close();

    await serve('fatal');
    await fetch(`${url}/broken`).then((response) => response.text());
    await fastify.close();
    expect(log.lines).toEqual([]);
  });
});
