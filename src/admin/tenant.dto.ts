import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TENANT_ID_PATTERN, TenantStatus } from '@tollgate/ai';
import { CreateTenantInput, TenantView, UpdateTenantInput } from '@tollgate/ai/tenancy';
import { IsBoolean, IsIn, IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { TENANT_ID_RULE } from './admin-params';
import { HasNoControlCharacters, IsOmittable } from './admin-validation';
import { LimitOverridesDto, TenantLimitsDto } from './tenant-limits.dto';

const TENANT_STATUSES: TenantStatus[] = ['active', 'disabled'];

export class CreateTenantDto implements CreateTenantInput {
  @ApiPropertyOptional({ description: 'Generated (`tn_…`) when left out.', pattern: TENANT_ID_PATTERN.source, example: 'acme' })
  @IsOmittable()
  @IsString()
  @Matches(TENANT_ID_PATTERN, { message: TENANT_ID_RULE })
  id?: string;

  @ApiProperty({ maxLength: 200, example: 'Acme Corp' })
  @IsString()
  @HasNoControlCharacters()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ description: 'A plan of config/plans.yaml.', default: 'default', example: 'pro' })
  @IsOmittable()
  @IsString()
  @HasNoControlCharacters()
  @IsNotEmpty()
  @MaxLength(64)
  plan?: string;
}

export class UpdateTenantDto implements UpdateTenantInput {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOmittable()
  @IsString()
  @HasNoControlCharacters()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ description: 'A plan of config/plans.yaml; the tenant keeps its overrides.' })
  @IsOmittable()
  @IsString()
  @HasNoControlCharacters()
  @IsNotEmpty()
  @MaxLength(64)
  plan?: string;

  @ApiPropertyOptional({ enum: TENANT_STATUSES, description: "A disabled tenant's keys stop working within the key cache TTL." })
  @IsOmittable()
  @IsIn(TENANT_STATUSES)
  status?: TenantStatus;

  @ApiPropertyOptional({ description: "Write this tenant's prompts and completions into the request log (off by default: they may hold personal data)." })
  @IsOmittable()
  @IsBoolean()
  logContent?: boolean;
}

export class TenantDto implements TenantView {
  @ApiProperty({ example: 'acme' })
  id: string;

  @ApiProperty({ example: 'Acme Corp' })
  name: string;

  @ApiProperty({ example: 'default' })
  plan: string;

  @ApiProperty({ enum: TENANT_STATUSES })
  status: TenantStatus;

  @ApiProperty({ type: TenantLimitsDto, description: "The plan's limits with the tenant's overrides applied." })
  limits: TenantLimitsDto;

  @ApiProperty({ type: LimitOverridesDto, description: 'What PUT /admin/tenants/{id}/quota changed from the plan.' })
  overrides: LimitOverridesDto;

  @ApiProperty({ description: 'Whether its prompts and completions are written to the request log.' })
  logContent: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class TenantListDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [TenantDto] })
  data: TenantDto[];
}
