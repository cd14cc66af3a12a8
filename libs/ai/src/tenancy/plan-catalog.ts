import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ResolvedAiOptions } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';
import { Clock, InjectClock } from '../common/clock';
import { UnknownPlanError } from '../errors/ai-errors';
import { Database } from '../persistence/database';
import { PlanEntity } from './plan.entity';
import { TenantLimits } from './tenant-limits';

/** The configured plans: the module's options are the source of truth, mirrored into the `plans` table at start-up. */
@Injectable()
export class PlanCatalog implements OnModuleInit {
  constructor(
    @Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions,
    private readonly db: Database,
    @InjectClock() private readonly clock: Clock,
  ) {}

  names(): string[] {
    return Object.keys(this.options.plans);
  }

  limitsOf(plan: string): TenantLimits {
    const limits = this.options.plans[plan];
    if (!limits) throw new UnknownPlanError(plan, this.names());
    return limits;
  }

  async onModuleInit(): Promise<void> {
    const updatedAt = this.clock.now();
    const rows = Object.entries(this.options.plans).map(([name, limits]) => ({ name, limits, updatedAt }));
    await this.db.transaction((manager) => manager.upsert(PlanEntity, rows, ['name']));
  }
}
