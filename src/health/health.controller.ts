import { ArgumentsHost, Catch, Controller, ExceptionFilter, Get, ServiceUnavailableException, UseFilters } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { BreakerRegistry, BreakerStatus, StatusPageReport, UpstreamStatusPage } from '@tollgate/ai';
import { AiHealthIndicators } from '@tollgate/ai/health';
import { UpstreamHealthDto } from '../admin/upstream-health.dto';
import { ShutdownGate } from './shutdown-gate';

/** The upstream as far as Tollgate can tell: OpenAI's own word, the breakers, and the recent error rate. */
export interface UpstreamHealth {
  /**
   * `degraded` while the status page reports an incident or a breaker is not closed; else `unknown` while no status
   * page could be read (that is not news of the upstream), else `ok`.
   */
  status: 'ok' | 'degraded' | 'unknown';
  statusPage: StatusPageReport;
  breakers: BreakerStatus[];
  /** Calls that reached the upstream in the breakers' rolling windows, and how many failed it. */
  errorRate: { calls: number; failures: number; ratio: number };
}

/** A failed check is answered with terminus's own report (which check, why), not the tenant-facing error shape. */
@Catch(ServiceUnavailableException)
class HealthReportFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    void host.switchToHttp().getResponse<FastifyReply>().status(503).send(exception.getResponse());
  }
}

/** Kubernetes probes: liveness needs nothing outside the process; readiness needs what requests need, never the upstream. */
@ApiTags('health')
@UseFilters(HealthReportFilter)
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: AiHealthIndicators,
    private readonly shutdown: ShutdownGate,
    private readonly statusPage: UpstreamStatusPage,
    private readonly breakers: BreakerRegistry,
  ) {}

  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** For a startup probe: up once start-up's work is done (migrations, the keys read and verified), with each key's verdict. */
  @Get('startup')
  @HealthCheck()
  startup(): Promise<HealthCheckResult> {
    return this.health.check([() => this.indicators.startup()]);
  }

  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.shutdown.check(),
      () => this.indicators.startup(),
      () => this.indicators.database(),
      () => this.indicators.redis(),
      () => this.indicators.upstreamKey(),
    ]);
  }

  /** Informative, never a probe: an OpenAI outage must not take every replica out of the load balancer. Always 200. */
  @Get('upstream')
  @ApiOkResponse({ type: UpstreamHealthDto, description: 'Always 200: informative, never a probe.' })
  async upstream(): Promise<UpstreamHealth> {
    const statusPage = await this.statusPage.current();
    const breakers = this.breakers.statuses();
    const calls = breakers.reduce((sum, breaker) => sum + breaker.recentCalls, 0);
    const failures = breakers.reduce((sum, breaker) => sum + breaker.recentFailures, 0);
    const incident = statusPage.indicator !== 'none' && statusPage.indicator !== 'unknown';
    const degraded = incident || breakers.some((breaker) => breaker.state !== 'closed');
    return {
      status: degraded ? 'degraded' : statusPage.indicator === 'unknown' ? 'unknown' : 'ok',
      statusPage,
      breakers,
      errorRate: { calls, failures, ratio: calls === 0 ? 0 : failures / calls },
    };
  }
}
