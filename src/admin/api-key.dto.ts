import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ApiKeyView, IssuedApiKey } from '@tollgate/ai/tenancy';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { HasNoControlCharacters } from './admin-validation';

export class IssueApiKeyDto {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 200, description: 'A label for operators, e.g. where the key is used.', example: 'billing-service' })
  @IsOptional()
  @IsString()
  @HasNoControlCharacters()
  @MaxLength(200)
  name?: string | null;
}

export class IssuedApiKeyDto implements IssuedApiKey {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ description: 'The key itself: shown this once, stored only as a hash.', example: 'tg-…' })
  key: string;

  @ApiProperty({ description: 'The first characters of the key, to recognise it later.', example: 'tg-AbCdEfG' })
  prefix: string;

  @ApiProperty({ type: String, nullable: true })
  name: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class ApiKeyDto implements ApiKeyView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'tg-AbCdEfG' })
  prefix: string;

  @ApiProperty({ type: String, nullable: true })
  name: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  revokedAt: string | null;
}

export class ApiKeyListDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [ApiKeyDto], description: 'Revoked keys included; never the keys themselves.' })
  data: ApiKeyDto[];
}
