import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ChatCompletionRequestDto } from '../chat/chat-completion-request.dto';
import { EmbeddingRequestDto } from '../embeddings/embedding-request.dto';
import { AsyncChatCompletionRequestDto } from '../jobs/async-chat-completion-request.dto';
import { ResponseRequestDto } from '../responses/response-request.dto';
import { validationSchemas } from './validation-schema';

const DESCRIPTION =
  'An OpenAI-compatible gateway: `/v1` for tenants (OpenAI’s API, with a tenant key), `/admin` for operators ' +
  '(with the admin token), `/health` for probes and `/metrics` for Prometheus. Every error is OpenAI’s shape: ' +
  '`{ "error": { "message", "type", "code", "param" } }`; every 429 and 503 carries `Retry-After` and `retry-after-ms`.';

/** The request bodies described from the rules that validate them (validation-schema.ts) rather than from @ApiProperty. */
const VALIDATED_BODIES = [ChatCompletionRequestDto, AsyncChatCompletionRequestDto, EmbeddingRequestDto, ResponseRequestDto];

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
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'METRICS_TOKEN', description: "The gateway's METRICS_TOKEN, for /metrics (open without one, outside production)." },
      'metrics',
    )
    .build();
  const document = withValidatedBodies(SwaggerModule.createDocument(app, config));
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

/** The document, with each validated body's schema (and those it nests) in place of the empty one @nestjs/swagger finds. */
function withValidatedBodies(document: OpenAPIObject): OpenAPIObject {
  const schemas = document.components?.schemas ?? {};
  const derived = validationSchemas(VALIDATED_BODIES);
  for (const name of Object.keys(derived)) {
    const found = schemas[name];
    if (found && !('properties' in found && Object.keys(found.properties ?? {}).length === 0)) {
      throw new Error(`The OpenAPI document has a schema named ${name} already: a validated DTO needs another class name.`);
    }
  }
  return { ...document, components: { ...document.components, schemas: { ...schemas, ...derived } } };
}
