import { ConfigurableModuleBuilder } from '@nestjs/common';
import { AiModuleOptions } from './ai-module-options';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<AiModuleOptions>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();

/** The options with every default filled in. */
export const RESOLVED_AI_OPTIONS = Symbol('ResolvedAiOptions');
