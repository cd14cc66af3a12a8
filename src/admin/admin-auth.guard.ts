import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { SecretToken } from '../http/secret-token';
import { bearerToken } from '../tenancy/tenant-auth.guard';

const NO_TOKEN = "You didn't provide the admin token. Send the gateway's ADMIN_TOKEN as 'Authorization: Bearer <admin token>'.";
// The same words for a wrong token and a tenant's key: a caller learns nothing about either.
const BAD_TOKEN = "Incorrect admin token provided. The admin API takes the gateway's ADMIN_TOKEN; tenant keys work on /v1 only.";

/** Lets through only the bearer of the gateway's admin token. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly adminToken: SecretToken;

  constructor(config: ConfigService) {
    this.adminToken = new SecretToken(config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG).adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    const token = bearerToken(context.switchToHttp().getRequest<FastifyRequest>().headers.authorization);
    if (!token) throw GatewayHttpException.invalidApiKey(NO_TOKEN);
    if (!this.adminToken.matches(token)) throw GatewayHttpException.invalidApiKey(BAD_TOKEN);
    return true;
  }
}
