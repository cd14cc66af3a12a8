import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLANS } from '../ai-option-slices';
import { Clock, InjectClock } from '../common/clock';
import { UnknownPlanError } from '../errors/ai-errors';
import { Database } from '../persistence/database';
import { PlanEntity } from './plan.entity';
import { TenantLimits } from './tenant-limits';

/** The configured plans: the module's options are the source of truth, mirrored into the `plans` table at start-up. */
@Injectable()
export class PlanCatalog implements OnModuleInit {
  constructor(
    @Inject(PLANS) private readonly plans: Record<string, TenantLimits>,
    private readonly db: Database,
    @InjectClock() private readonly clock: Clock,
  ) {}

  names(): string[] {
    return Object.keys(this.plans);
  }

  limitsOf(plan: string): TenantLimits {
    const limits = this.plans[plan];
    if (!limits) throw new UnknownPlanError(plan, this.names());
    return limits;
  }

  async onModuleInit(): Promise<void> {
    const updatedAt = this.clock.now();
    const rows = Object.entries(this.plans).map(([name, limits]) => ({ name, limits, updatedAt }));
    await this.db.transaction((manager) => manager.upsert(PlanEntity, rows, ['name']));
  }
}
