import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GATEWAY_CONFIG, GatewayConfig } from './config/gateway-config';
import { InvalidEnvironmentError } from './config/environment';
import { createGateway } from './create-gateway';
import { startSummary } from './start-summary';

async function bootstrap(): Promise<void> {
  const app = await createGateway();
  const config = app.get(ConfigService).getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
  await app.listen({ port: config.port, host: '0.0.0.0' });
  const [listening, ...details] = startSummary(config, await app.getUrl());
  new Logger('Tollgate').log([listening, ...details.map((line) => `  ${line}`)].join('\n'));
}

bootstrap().catch((error: unknown) => {
  // A configuration problem is the operator's to fix: say what, without a stack trace.
  console.error(error instanceof InvalidEnvironmentError ? error.message : error);
  process.exit(1);
});
