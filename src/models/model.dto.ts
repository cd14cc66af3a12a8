import { ApiProperty } from '@nestjs/swagger';
import type { Model } from 'openai/resources/models';

// OpenAI's model objects, as the upstream lists them: documented only, checked against the SDK's type.

export class ModelDto implements Model {
  @ApiProperty({ example: 'gpt-4o-mini' })
  id: string;

  @ApiProperty({ enum: ['model'] })
  object: 'model';

  @ApiProperty({ description: 'Unix seconds.' })
  created: number;

  @ApiProperty({ example: 'openai' })
  owned_by: string;
}

export class ModelListDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [ModelDto], description: 'The upstream’s models this tenant’s plan allows.' })
  data: ModelDto[];
}
