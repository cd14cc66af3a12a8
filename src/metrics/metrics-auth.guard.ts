import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { SecretToken } from '../http/secret-token';
import { bearerToken } from '../tenancy/tenant-auth.guard';

const NO_TOKEN = "You didn't provide the metrics token. Send the gateway's METRICS_TOKEN as 'Authorization: Bearer <metrics token>'.";
// The same words for any wrong token, the admin token and tenant keys included: a caller learns nothing about either.
const BAD_TOKEN = "Incorrect metrics token provided. /metrics takes the gateway's METRICS_TOKEN only.";

/**
 * Lets through only the bearer of the metrics token: the metrics name every tenant with its tokens
 * and cost. Without METRICS_TOKEN, which only a start outside production allows, /metrics is open.
 */
@Injectable()
export class MetricsAuthGuard implements CanActivate {
  private readonly metricsToken?: SecretToken;

  constructor(config: ConfigService) {
    const { metricsToken } = config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
    this.metricsToken = metricsToken === undefined ? undefined : new SecretToken(metricsToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.metricsToken) return true;
    const token = bearerToken(context.switchToHttp().getRequest<FastifyRequest>().headers.authorization);
    if (!token) throw GatewayHttpException.invalidApiKey(NO_TOKEN);
    if (!this.metricsToken.matches(token)) throw GatewayHttpException.invalidApiKey(BAD_TOKEN);
    return true;
  }
}
