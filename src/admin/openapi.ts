import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

const DESCRIPTION =
  'An OpenAI-compatible gateway: `/v1` for tenants (OpenAI’s API, with a tenant key), `/admin` for operators ' +
  '(with the admin token). Every error is OpenAI’s shape: `{ "error": { "message", "type", "code", "param" } }`.';

/** Serves the OpenAPI document at /docs-json and its UI at /docs. */
export function setUpOpenApi(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('Tollgate')
    .setDescription(DESCRIPTION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'ADMIN_TOKEN', description: "The gateway's ADMIN_TOKEN, for /admin." }, 'admin')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'tg-…', description: 'A tenant key issued by POST /admin/tenants/{id}/keys, for /v1.' },
      'tenant',
    )
    .build();
  SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, config), { jsonDocumentUrl: 'docs-json' });
}
