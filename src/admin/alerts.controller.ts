import { Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AlertEvaluator } from '@tollgate/ai';
import { AdminController } from './admin-controller.decorator';
import { AlertListDto } from './alerts.dto';

@AdminController('alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertEvaluator) {}

  @Get()
  @ApiOperation({
    summary: 'Active alerts',
    description: 'The alerts of config/alerts.yaml whose condition holds, as of the last evaluation (ALERT_EVALUATION_INTERVAL_MS).',
  })
  @ApiOkResponse({ type: AlertListDto })
  list(): AlertListDto {
    return { object: 'list', data: this.alerts.active() };
  }
}
