import { ConfigurableModuleBuilder, DynamicModule } from '@nestjs/common';
import { AiModuleOptions } from './ai-module-options';
import { WITH_DATABASE } from './ai-option-slices';
import { Admissions } from './chat/admissions';
import { OpenAdmissions } from './chat/open-admissions';
import { requireOptional } from './common/optional-package';
import { DATABASE_FEATURE } from './persistence/database';
import type * as Tenancy from './tenancy/tenancy.providers';

interface AiModuleExtras {
  /** Provide the module to every module of the application. @default false */
  isGlobal: boolean;
  /**
   * Whether the options have a `database`, which brings tenants, quotas, the ledger and jobs. `forRoot` sees it in
   * its options; `forRootAsync` cannot before its factory runs, so it is told. @default false
   */
  withDatabase: boolean;
}

/** With a database, the tenancy providers join the module: their code (and TypeORM's) is loaded only then. */
function defineModule(definition: DynamicModule, { isGlobal, withDatabase }: AiModuleExtras): DynamicModule {
  const flag = { provide: WITH_DATABASE, useValue: withDatabase };
  if (!withDatabase) {
    return { ...definition, global: isGlobal, providers: [...(definition.providers ?? []), flag, { provide: Admissions, useClass: OpenAdmissions }] };
  }
  requireOptional('typeorm', DATABASE_FEATURE);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TENANCY_PROVIDERS, TENANCY_EXPORTS } = require('./tenancy/tenancy.providers') as typeof Tenancy;
  return {
    ...definition,
    global: isGlobal,
    providers: [...(definition.providers ?? []), flag, ...TENANCY_PROVIDERS],
    exports: [...(definition.exports ?? []), ...TENANCY_EXPORTS],
  };
}

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<AiModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras<AiModuleExtras>({ isGlobal: false, withDatabase: false }, defineModule)
    .build();
