import { ApiProperty } from '@nestjs/swagger';
import { OpenAiErrorFields } from '../http/gateway-http.exception';

export class OpenAiErrorFieldsDto implements OpenAiErrorFields {
  @ApiProperty({ description: 'What happened and what to do.' })
  message: string;

  @ApiProperty({ example: 'invalid_request_error' })
  type: string;

  @ApiProperty({ type: String, nullable: true, example: 'tenant_not_found' })
  code: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The field, path or query parameter at fault.', example: 'id' })
  param: string | null;
}

/** Every error of the gateway, in OpenAI's shape. */
export class OpenAiErrorDto {
  @ApiProperty({ type: OpenAiErrorFieldsDto })
  error: OpenAiErrorFieldsDto;
}
