import { Injectable } from '@nestjs/common';
import { Clock, InjectClock } from '@tollgate/ai';
import { TenantService, UsageDetailPrunedError, UsageService } from '@tollgate/ai/tenancy';
import { GatewayHttpException } from '../http/gateway-http.exception';
import { isIsoDate, UsageQueryDto, UsageReportDto } from './usage.dto';

const DAY_MS = 86_400_000;

/** A tenant's usage over a period, from the ledger and its daily roll-ups, with the operator's defaults filled in. */
@Injectable()
export class UsageReportService {
  constructor(
    private readonly tenants: TenantService,
    private readonly usage: UsageService,
    @InjectClock() private readonly clock: Clock,
  ) {}

  async report(tenantId: string, query: UsageQueryDto): Promise<UsageReportDto> {
    // An unknown tenant is a 404, not an empty report.
    await this.tenants.get(tenantId);
    const now = this.clock.now();
    const from = query.from === undefined ? startOfUtcMonth(now) : Date.parse(query.from);
    // A date as the end means that whole day, so from=2026-11-01&to=2026-11-30 is all of November.
    const to = query.to === undefined ? now : Date.parse(query.to) + (isIsoDate(query.to) ? DAY_MS : 0);
    if (to <= from) throw GatewayHttpException.invalidRequest("Invalid 'to': to must be later than from.", 'to');
    const groupBy = query.groupBy ?? 'day';
    const data = await this.usage.summarize(tenantId, { from, to, groupBy }).catch((error: unknown) => {
      if (error instanceof UsageDetailPrunedError) throw GatewayHttpException.invalidRequest(`Invalid '${error.edge}': ${error.message}`, error.edge);
      throw error;
    });
    return { object: 'list', tenantId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), groupBy, data };
  }
}

function startOfUtcMonth(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}
