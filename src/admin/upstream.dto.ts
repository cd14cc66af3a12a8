import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BreakerState, BreakerStatus, KeyOutReason, KeyState, KeyVerdict, RefreshOutcome } from '@tollgate/ai';

const BREAKER_STATES: BreakerState[] = ['closed', 'open', 'half_open'];

export class BreakerStatusDto implements BreakerStatus {
  @ApiProperty({ example: 'openai-main', description: "The upstream's name (upstreams.yaml; `openai` without the file)." })
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
  @ApiProperty({ enum: ['env', 'file', 'aws', 'azure'], description: 'Where the upstream key comes from (AI_SECRET_PROVIDER, or its `secret` in upstreams.yaml).' })
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

class KeyOutDto {
  @ApiProperty({
    enum: ['insufficient_quota', 'refused', 'wrong_account'],
    description: 'Out of credit, refused by the upstream (401) after a re-read of its secret, or answering for another organization or project than `expect` says.',
  })
  reason: KeyOutReason;

  @ApiProperty({ description: 'Since when, ISO 8601.' })
  since: string;

  @ApiPropertyOptional({ description: 'When a call may probe the key again (out of credit or refused), ISO 8601.' })
  probeAt?: string;

  @ApiPropertyOptional({ description: 'What was seen, e.g. the organization the key answered for.' })
  detail?: string;
}

export class UpstreamKeyDto extends UpstreamSecretDto {
  @ApiProperty({ example: 'openai-main' })
  upstream: string;

  @ApiProperty({ example: 'project-a', description: "The key's name, never the key." })
  key: string;

  @ApiProperty({ example: 1 })
  weight: number;

  @ApiProperty({ enum: ['ready', 'resting', 'out'], description: "ready serves; resting waits out an upstream 429's Retry-After (for the model it came for); out is taken out of service." })
  state: KeyState;

  @ApiProperty({ description: "Calls waiting for this key's answer now (a stream until its first chunk): the least busy key is chosen among equals." })
  inFlight: number;

  @ApiPropertyOptional({ description: 'While resting for some model: until when (the last of its rests), ISO 8601.' })
  restingUntil?: string;

  @ApiPropertyOptional({ type: KeyOutDto })
  out?: KeyOutDto;
}

class RefreshedKeyDto extends UpstreamKeyDto {
  @ApiProperty({ enum: ['rotated', 'unchanged', 'failed'], description: 'What the read found: a new key, the same key, or no answer (the last good key stays).' })
  outcome: RefreshOutcome;
}

export class SecretRefreshDto extends RefreshedKeyDto {
  @ApiProperty({ type: [RefreshedKeyDto], description: 'Every key after the refresh; the fields above are the first key’s.' })
  keys: RefreshedKeyDto[];
}

export class UpstreamStatusDto {
  @ApiProperty({ type: [BreakerStatusDto], description: 'One breaker per upstream and model called since start-up.' })
  breakers: BreakerStatusDto[];

  @ApiProperty({ type: UpstreamKeyDto, description: 'The first key (the only one without upstreams.yaml).' })
  secret: UpstreamKeyDto;

  @ApiProperty({ type: [UpstreamKeyDto], description: 'Every key of every upstream.' })
  keys: UpstreamKeyDto[];
}
