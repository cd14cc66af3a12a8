import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TenantNotFoundError } from '@tollgate/ai';
import { ApiKeyService, TenantService } from '@tollgate/ai/tenancy';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway-config';
import { readDevCredentials, writeDevCredentials } from './dev-credentials';

export const DEMO_TENANT = 'demo';

/**
 * Outside production, so that `npm start` and one curl work: the first start creates a `demo` tenant
 * and shows its key, and every start shows the admin token it generated. In development both are kept
 * in the data directory's credentials file, so that a restart keeps working; elsewhere (tests) the token
 * lasts one run and the key is shown once. Printed to the terminal as a banner, not logged: these are the
 * only secrets Tollgate ever shows, on purpose.
 */
@Injectable()
export class DemoData implements OnApplicationBootstrap {
  constructor(
    private readonly config: ConfigService,
    private readonly tenants: TenantService,
    private readonly keys: ApiKeyService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const config = this.config.getOrThrow<GatewayConfig>(GATEWAY_CONFIG);
    if (config.production) return;
    const lines = config.devCredentialsFile ? await this.keepCredentials(config, config.devCredentialsFile) : await this.showCredentialsOnce(config);
    if (lines.length > 0) process.stdout.write(`\n${lines.map((line) => `  ${line}`).join('\n')}\n\n`);
  }

  private async showCredentialsOnce({ adminToken, adminTokenGenerated }: GatewayConfig): Promise<string[]> {
    const lines: string[] = [];
    if (adminTokenGenerated) lines.push(`Admin token for this run (set ADMIN_TOKEN to choose one): ${adminToken}`);
    const demoKey = await this.createDemoTenant();
    if (demoKey) lines.push(`Created tenant '${DEMO_TENANT}'. Its API key, shown only now: ${demoKey}`);
    return lines;
  }

  private async keepCredentials({ adminToken, adminTokenGenerated, port }: GatewayConfig, file: string): Promise<string[]> {
    const kept = readDevCredentials(file);
    const created = await this.createDemoTenant();
    const demoKey = created ?? ((await this.isDemoKey(kept.demoKey)) ? kept.demoKey : undefined);
    // An ADMIN_TOKEN of the operator's own choosing is never written down: the file keeps the generated one for later.
    writeDevCredentials(file, { adminToken: adminTokenGenerated ? adminToken : kept.adminToken, demoKey });
    const lines: string[] = [];
    if (adminTokenGenerated) lines.push(`Admin token (kept in ${file}; set ADMIN_TOKEN to choose one): ${adminToken}`);
    if (created) lines.push(`Created tenant '${DEMO_TENANT}'. Its API key (kept in ${file}): ${created}`);
    else if (demoKey) lines.push(`Tenant '${DEMO_TENANT}': its API key is kept in ${file}; \`. ${file}\` sets $DEMO_KEY and $ADMIN_TOKEN in your shell.`);
    else {
      const token = adminTokenGenerated ? `. ${file} && ` : '';
      lines.push(
        `Tenant '${DEMO_TENANT}' exists, but ${file} holds no working key of it (deleted, or revoked). Issue a new one with:`,
        `  ${token}curl -s -X POST localhost:${port}/admin/tenants/${DEMO_TENANT}/keys -H "authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' -d '{"name":"demo"}'`,
      );
    }
    return lines;
  }

  /** The key of a new `demo` tenant; undefined when it exists already. */
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

  private async isDemoKey(key: string | undefined): Promise<boolean> {
    return key !== undefined && (await this.keys.authenticate(key))?.tenantId === DEMO_TENANT;
  }
}
