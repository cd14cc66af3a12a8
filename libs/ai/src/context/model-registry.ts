import { Inject, Injectable } from '@nestjs/common';
import { ModelInfo, ResolvedAiOptions, TokenEncoding } from '../ai-module-options';
import { RESOLVED_AI_OPTIONS } from '../ai.module-definition';
import { UnknownModelError } from '../errors/ai-errors';

/** The module's model table: what it knows of each model's window, tokenizer and sibling. */
@Injectable()
export class ModelRegistry {
  constructor(@Inject(RESOLVED_AI_OPTIONS) private readonly options: ResolvedAiOptions) {}

  /** With no table at all every model passes: a library user who configured none checks none. */
  assertCallable(model: string, allowUnknownModels: boolean): void {
    if (allowUnknownModels || this.names().length === 0 || this.info(model)) return;
    throw new UnknownModelError(model, this.names());
  }

  info(model: string): ModelInfo | undefined {
    return this.options.models[model];
  }

  encodingOf(model: string): TokenEncoding {
    return this.info(model)?.encoding ?? 'o200k_base';
  }

  names(): string[] {
    return Object.keys(this.options.models);
  }
}
