import { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Once the server starts closing, every answer still going out says `Connection: close`, so that
 * keep-alive clients let go and the close finishes when the last answer is sent — not a keep-alive
 * timeout (72 s) later, after Kubernetes has given up waiting and killed the pod.
 */
export function closeConnectionsOnShutdown(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  let closing = false;
  fastify.addHook('preClose', async () => {
    closing = true;
  });
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
}
