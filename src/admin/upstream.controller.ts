import { Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminController } from './admin-controller.decorator';
import { UpstreamStatusService } from './upstream-status.service';
import { SecretRefreshDto, UpstreamStatusDto } from './upstream.dto';

@AdminController('upstream')
export class UpstreamController {
  constructor(private readonly upstream: UpstreamStatusService) {}

  @Get()
  @ApiOperation({ summary: "The upstream's breakers, and the version and fingerprint of the secret in use" })
  @ApiOkResponse({ type: UpstreamStatusDto })
  status(): UpstreamStatusDto {
    return this.upstream.status();
  }

  @Post('secrets/refresh')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Re-read the upstream secret',
    description:
      'Reads the upstream key from its store now, rather than at the next scheduled refresh: after a rotation in a file, ' +
      'AWS Secrets Manager or Azure Key Vault (AI_SECRET_PROVIDER). With `env` there is nothing to re-read: the key is the ' +
      'OPENAI_API_KEY the gateway started with. Concurrent refreshes share one read; a failed read keeps the last good key.',
  })
  @ApiOkResponse({ type: SecretRefreshDto, description: 'The secret in use after the refresh, and what the read found.' })
  refreshSecret(): Promise<SecretRefreshDto> {
    return this.upstream.refreshSecret();
  }
}
