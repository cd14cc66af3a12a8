import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { GatewayHttpException } from './gateway-http.exception';

/**
 * Once the server starts closing, every answer still going out says `Connection: close`, so that
 * keep-alive clients let go and the close finishes when the last answer is sent — not a keep-alive
 * timeout (72 s) later, after Kubernetes has given up waiting and killed the pod. A request that
 * arrives meanwhile on a kept-alive connection is a 503 with Retry-After, to be sent to another replica.
 */
export function closeConnectionsOnShutdown(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  let closing = false;
  fastify.addHook('preClose', async () => {
    closing = true;
  });
  fastify.addHook('onRequest', async () => {
    if (closing) throw shuttingDown();
  });
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
}

function shuttingDown(): GatewayHttpException {
  return new GatewayHttpException(503, {
    message: 'This gateway replica is shutting down: retry the request, it will reach another one.',
    type: 'server_error',
    code: 'server_shutting_down',
    param: null,
  });
}
