import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import { AiMetrics } from '@tollgate/ai';
import { ApiKeyService } from '@tollgate/ai/tenancy';
import { FastifyRequest } from 'fastify';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { annotateRequestLog } from '../logging/request-log';

export interface AuthenticatedTenant {
  id: string;
  keyId: string;
}

type TenantRequest = FastifyRequest & { tenant?: AuthenticatedTenant };

const NO_KEY = "You didn't provide an API key. Send your Tollgate key as 'Authorization: Bearer <key>'.";
// Never echoes the key: the same words for a malformed, unknown, revoked or disabled tenant's key.
const BAD_KEY = 'Incorrect API key provided. Use a key your gateway operator issued you; revoked keys stop working.';

/** Turns the tenant's bearer key into the tenant every limit and log line is keyed by. */
@Injectable()
export class TenantAuthGuard implements CanActivate {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly metrics: AiMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<TenantRequest>();
    const key = bearerToken(request.headers.authorization);
    if (!key) throw GatewayHttpException.invalidApiKey(NO_KEY);
    const owner = await this.keys.authenticate(key);
    if (!owner) throw GatewayHttpException.invalidApiKey(BAD_KEY);
    request.tenant = { id: owner.tenantId, keyId: owner.keyId };
    annotateRequestLog(request.raw, { tenant: owner.tenantId, keyId: owner.keyId });
    if (isClientRetry(request.headers['x-stainless-retry-count'])) this.metrics.countClientRetry(owner.tenantId);
    return true;
  }
}

/** OpenAI's SDKs number their own retries of a request in `X-Stainless-Retry-Count`: 0 for the first try. */
function isClientRetry(header: string | string[] | undefined): boolean {
  const count = Number(Array.isArray(header) ? header[0] : header);
  return Number.isInteger(count) && count > 0;
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** The tenant TenantAuthGuard authenticated. */
export const CurrentTenant = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedTenant => {
  const tenant = context.switchToHttp().getRequest<TenantRequest>().tenant;
  if (!tenant) throw new Error('CurrentTenant used on a route without TenantAuthGuard');
  return tenant;
});
