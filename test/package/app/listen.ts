import type { INestApplication } from '@nestjs/common';

/** On PORT (0: any free port), printing the URL in the line the test waits for. */
export async function listen(app: INestApplication): Promise<void> {
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  console.log(`App listening on ${await app.getUrl()}`);
}
