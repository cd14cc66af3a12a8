import { applyDecorators } from '@nestjs/common';
import { ApiProperty, PartialType } from '@nestjs/swagger';
import { CONTEXT_POLICIES, ContextPolicy, TenantLimits } from '@tollgate/ai';
import { IsArray, IsBoolean, IsIn, IsInt, IsNumber, IsObject, IsString, Max, Min, ValidateBy, ValidateIf } from 'class-validator';
import { HasNoControlCharacters, hasControlCharacters } from './admin-validation';

const isNotNull = (_object: object, value: unknown) => value !== null;

/** Counts are stored in BIGINT columns and added in JavaScript numbers: the safe integers bound both. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** Spend is counted in micro-USD, in the same columns. */
const MAX_COST_USD = Math.floor(Number.MAX_SAFE_INTEGER / 1_000_000);

/** A whole number of 0 or more, or null for no limit. */
function CountLimit(description: string): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ type: 'integer', minimum: 0, maximum: MAX_COUNT, nullable: true, description }),
    ValidateIf(isNotNull),
    IsInt(),
    Min(0),
    Max(MAX_COUNT),
  );
}

/** `{ "gpt-4o": ["gpt-4o-mini"] }`: each model maps to the models tried, in order, when it fails. */
function IsFallbackChains(): PropertyDecorator {
  return ValidateBy({
    name: 'isFallbackChains',
    validator: {
      validate: (value: unknown) =>
        Object.entries(value as object).every(
          ([model, chain]) => !hasControlCharacters(model) && Array.isArray(chain) && chain.every((fallback) => typeof fallback === 'string' && !hasControlCharacters(fallback)),
        ),
      defaultMessage: () => 'fallbackModels must map each model to an array of model names, without control characters',
    },
  });
}

/** Every limit of a tenant; null means none. */
export class TenantLimitsDto implements TenantLimits {
  @CountLimit('Requests per minute.')
  requestsPerMinute: number | null;

  @CountLimit('Prompt and completion tokens per minute.')
  tokensPerMinute: number | null;

  @CountLimit('Requests per UTC day.')
  requestsPerDay: number | null;

  @CountLimit('Prompt and completion tokens per UTC month.')
  tokensPerMonth: number | null;

  @ApiProperty({ type: Number, minimum: 0, maximum: MAX_COST_USD, nullable: true, description: 'Spend per UTC month, in USD, priced from config/models.yaml.' })
  @ValidateIf(isNotNull)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(MAX_COST_USD)
  costPerMonthUsd: number | null;

  @CountLimit('Requests in flight at once.')
  concurrentRequests: number | null;

  @ApiProperty({ type: [String], nullable: true, description: 'The models the tenant may call (known to config/models.yaml); null: any.' })
  @ValidateIf(isNotNull)
  @IsArray()
  @IsString({ each: true })
  @HasNoControlCharacters({ each: true })
  allowedModels: string[] | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string' } },
    nullable: true,
    description: "The tenant's own fallback chains, by requested model; null: the gateway's (AI_FALLBACK_MODELS).",
    example: { 'gpt-4o': ['gpt-4o-mini'] },
  })
  @ValidateIf(isNotNull)
  @IsObject()
  @IsFallbackChains()
  fallbackModels: Record<string, string[]> | null;

  @ApiProperty({ description: 'Whether models missing from config/models.yaml may be called, passed through as they are.' })
  @IsBoolean()
  allowUnknownModels: boolean;

  @ApiProperty({ enum: CONTEXT_POLICIES, description: "What happens to a prompt that does not fit: reject it, trim the oldest turns, summarize them, or upgrade to the model's larger-context sibling." })
  @IsIn(CONTEXT_POLICIES)
  contextPolicy: ContextPolicy;

  @CountLimit('The largest prompt the plan allows, in tokens, whatever the model.')
  maxPromptTokens: number | null;
}

/** Changes to the plan for one tenant: an absent field keeps the plan's value, null removes the limit. */
export class LimitOverridesDto extends PartialType(TenantLimitsDto) {}
