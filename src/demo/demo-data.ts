import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TenantNotFoundError } from '@tollgate/ai';
import { ApiKeyService, TenantService } from '@tollgate/ai/tenancy';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';

export const DEMO_TENANT = 'demo';

/**
 * Outside production, so that `npm start` and one curl work: the first start creates a `demo`
 * tenant and shows its key once, and every start shows the admin token it generated. Printed to
 * the terminal as a banner, not logged: these are the only secrets Tollgate ever shows, on purpose.
 */
@Injectable()
export class DemoData implements OnApplicationBootstrap {
  constructor(
    private readonly config: ConfigService,
    private readonly tenants: TenantService,
    private readonly keys: ApiKeyService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { production, adminToken, adminTokenGenerated } = this.config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
    if (production) return;
    const lines: string[] = [];
    if (adminTokenGenerated) lines.push(`Admin token for this run (set ADMIN_TOKEN to choose one): ${adminToken}`);
    const demoKey = await this.createDemoTenant();
    if (demoKey) lines.push(`Created tenant '${DEMO_TENANT}'. Its API key, shown only now: ${demoKey}`);
    if (lines.length > 0) process.stdout.write(`\n${lines.map((line) => `  ${line}`).join('\n')}\n\n`);
  }

  private async createDemoTenant(): Promise<string | undefined> {
    try {
      await this.tenants.get(DEMO_TENANT);
      return undefined;
    } catch (error) {
      if (!(error instanceof TenantNotFoundError)) throw error;
    }
    await this.tenants.create({ id: DEMO_TENANT, name: 'Demo tenant' });
    return (await this.keys.issue(DEMO_TENANT, 'demo')).key;
  }
}
