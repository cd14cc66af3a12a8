import { applyDecorators, Controller, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AdminAuthGuard } from './admin-auth.guard';
import { OpenAiErrorDto } from './openai-error.dto';

const ERROR_DESCRIPTIONS = {
  400: "Invalid input: `error.param` names the field, path or query parameter (codes: null, `unknown_plan`, `invalid_limits`).",
  401: 'No admin token, a wrong one, or a tenant key (`invalid_api_key`).',
  404: 'No such tenant (`tenant_not_found`) or key (`api_key_not_found`).',
  409: 'A tenant with this id exists already (`tenant_exists`).',
} as const;

/** Every operator route: under /admin, behind the admin token, documented as such. */
export function AdminController(path: string): ClassDecorator {
  return applyDecorators(Controller(`admin/${path}`), UseGuards(AdminAuthGuard), ApiBearerAuth('admin'), ApiTags('admin'), ApiErrors(401));
}

/** The OpenAI-shaped errors a route answers with. */
export function ApiErrors(...statuses: Array<keyof typeof ERROR_DESCRIPTIONS>): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: ERROR_DESCRIPTIONS[status], type: OpenAiErrorDto })));
}
