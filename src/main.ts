import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GATEWAY_CONFIG, GatewayConfig } from './config/gateway-config';
import { InvalidEnvironmentError } from './config/environment';
import { createGateway } from './create-gateway';

async function bootstrap(): Promise<void> {
  const app = await createGateway();
  const { port } = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  await app.listen({ port, host: '0.0.0.0' });
  new Logger('Tollgate').log(`Gateway listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  // A configuration problem is the operator's to fix: say what, without a stack trace.
  console.error(error instanceof InvalidEnvironmentError ? error.message : error);
  process.exit(1);
});
