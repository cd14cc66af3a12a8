import { Injectable } from '@nestjs/common';
import { Clock, InjectClock } from '../common/clock';
import { Pricing } from '../context/pricing';
import { CallEvents } from '../telemetry/call-events';
import { ActiveTenant, UNLIMITED } from '../tenancy/tenant-limits';
import { BreakerRegistry } from '../upstream/breaker-registry';
import { Admission, AdmissionContext, Admissions, endedCallRecord, MeteredCall, meteredChat } from './admissions';
import type { ChatRequest } from './chat-request';

/**
 * The module without a database: no tenants to look up, no limits or quotas to hold a call to, no ledger.
 * Every call is admitted; its end is announced (metrics, alerts, the caller's listener) as with Governance.
 */
@Injectable()
export class OpenAdmissions extends Admissions {
  constructor(
    private readonly pricing: Pricing,
    private readonly events: CallEvents,
    private readonly breakers: BreakerRegistry,
    @InjectClock() private readonly clock: Clock,
  ) {
    super();
  }

  async tenant(tenantId: string): Promise<ActiveTenant> {
    return { id: tenantId, limits: UNLIMITED, logContent: false };
  }

  admit(request: ChatRequest, context: AdmissionContext): Promise<Admission> {
    return this.admitCall(meteredChat(request, context.promptTokens ?? 0), context);
  }

  async admitCall(call: MeteredCall, context: AdmissionContext): Promise<Admission> {
    const tenant = context.tenant ?? (await this.tenant(context.tenantId));
    const admittedAt = this.clock.now();
    let finished = false;
    return {
      tenant,
      estimate: { promptTokens: context.promptTokens ?? 0, completionTokens: 0, costMicroUsd: 0 },
      rateLimits: {},
      finish: (end) => {
        if (finished) return;
        finished = true;
        const model = end.modelServed ?? call.model;
        const costMicroUsd = this.pricing.costMicroUsd(model, end.usage?.promptTokens ?? 0, end.usage?.completionTokens ?? 0, end.usage?.cachedTokens);
        const latencyMs = this.clock.now() - admittedAt;
        const record = endedCallRecord({ context, tenant, call, end, costMicroUsd, latencyMs, breakerState: this.breakers.stateOf(model, end.upstream) });
        this.events.callEnded(record, context.onCallEnded);
      },
    };
  }

  async drain(): Promise<void> {}
}
