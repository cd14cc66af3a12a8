import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { bearerToken } from '../tenancy/tenant-auth.guard';

const NO_TOKEN = "You didn't provide the admin token. Send the gateway's ADMIN_TOKEN as 'Authorization: Bearer <admin token>'.";
// The same words for a wrong token and a tenant's key: a caller learns nothing about either.
const BAD_TOKEN = "Incorrect admin token provided. The admin API takes the gateway's ADMIN_TOKEN; tenant keys work on /v1 only.";

/** Lets through only the bearer of the gateway's admin token. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly adminTokenDigest: Buffer;

  constructor(config: ConfigService) {
    this.adminTokenDigest = sha256(config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG).adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    const token = bearerToken(context.switchToHttp().getRequest<FastifyRequest>().headers.authorization);
    if (!token) throw GatewayHttpException.invalidApiKey(NO_TOKEN);
    // Digests have one length, so the comparison time tells nothing about the token's length or how much of it matched.
    if (!timingSafeEqual(sha256(token), this.adminTokenDigest)) throw GatewayHttpException.invalidApiKey(BAD_TOKEN);
    return true;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
