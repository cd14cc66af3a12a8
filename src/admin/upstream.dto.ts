import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BreakerState, BreakerStatus, KeyVerdict, RefreshOutcome } from '@tollgate/ai';

const BREAKER_STATES: BreakerState[] = ['closed', 'open', 'half_open'];

export class BreakerStatusDto implements BreakerStatus {
  @ApiProperty({ example: 'https://api.openai.com/v1' })
  upstream: string;

  @ApiProperty({ example: 'gpt-4o-mini' })
  model: string;

  @ApiProperty({ enum: BREAKER_STATES })
  state: BreakerState;

  @ApiPropertyOptional({ description: 'When an open breaker lets its next probe through, in epoch milliseconds.' })
  halfOpenAt?: number;

  @ApiProperty({ description: "Calls that reached the upstream in the breaker's rolling window." })
  recentCalls: number;

  @ApiProperty({ description: 'Of those, the ones that failed the upstream (tenant errors such as a 400 do not count).' })
  recentFailures: number;
}

export class UpstreamSecretDto {
  @ApiProperty({ enum: ['env', 'file', 'aws', 'azure'], description: 'Where the upstream key comes from (AI_SECRET_PROVIDER).' })
  provider: 'env' | 'file' | 'aws' | 'azure';

  @ApiProperty({ description: 'The first 12 hex digits of the SHA-256 of the key in use: compare it, never the key.', example: '3f2a9c1b7d4e' })
  fingerprint: string;

  @ApiProperty({ description: "The store's version id of the key in use (a fingerprint where the store has none).", example: 'a1b2c3d4' })
  version: string;

  @ApiProperty({ description: 'What reading the store says of the key: the secret and provider, never its value.' })
  source: string;

  @ApiProperty({ enum: ['accepted', 'refused', 'unverified'], description: 'What the upstream said of the key at start-up (AI_VERIFY_KEY_ON_START).' })
  verified: KeyVerdict;

  @ApiPropertyOptional({ description: 'The last failed read of the store, while the last good key keeps serving.' })
  storeError?: { failure: string; message: string; at: string };
}

export class SecretRefreshDto extends UpstreamSecretDto {
  @ApiProperty({ enum: ['rotated', 'unchanged', 'failed'], description: 'What the read found: a new key, the same key, or no answer (the last good key stays).' })
  outcome: RefreshOutcome;
}

export class UpstreamStatusDto {
  @ApiProperty({ type: [BreakerStatusDto], description: 'One breaker per model called since start-up.' })
  breakers: BreakerStatusDto[];

  @ApiProperty({ type: UpstreamSecretDto })
  secret: UpstreamSecretDto;
}
