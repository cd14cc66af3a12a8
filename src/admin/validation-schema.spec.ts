import 'reflect-metadata';
import { Type } from 'class-transformer';
import { Equals, IsArray, IsInt, IsOptional, IsString, Max, MaxLength, Min, ValidateBy, ValidateIf, ValidateNested } from 'class-validator';
import { IsOmittable } from './admin-validation';
import { schemaHint, validationSchemas } from './validation-schema';

class LeafDto {
  @Equals('leaf') kind: 'leaf';
}

class TreeDto {
  @IsString({ message: 'expected a name' }) @MaxLength(8) name: string;
  @IsOptional() @IsInt() @Min(1) @Max(5) depth?: number | null;
  @IsOmittable() @IsArray() @ValidateNested({ each: true }) @Type(() => LeafDto) leaves?: LeafDto[];
  @ValidateIf((_tree: object, tag: unknown) => typeof tag !== 'string', schemaHint({ alsoAccepts: { type: 'string' } })) @IsInt() tag: string | number;
}

describe(validationSchemas.name, () => {
  it('should describe each property as its rules validate it, nested DTOs by reference, and no other property', () => {
    expect(validationSchemas([TreeDto])).toEqual({
      TreeDto: {
        type: 'object',
        properties: {
          name: { type: 'string', maxLength: 8, description: 'A name.' },
          depth: { type: 'integer', minimum: 1, maximum: 5, nullable: true },
          leaves: { type: 'array', items: { $ref: '#/components/schemas/LeafDto' } },
          tag: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
        },
        required: ['name', 'tag'],
        additionalProperties: false,
      },
      LeafDto: { type: 'object', properties: { kind: { type: 'string', enum: ['leaf'] } }, required: ['kind'], additionalProperties: false },
    });
  });

  it('should refuse a custom constraint that no hint describes', () => {
    class CustomDto {
      @ValidateBy({ name: 'isEven', validator: { validate: (value) => Number(value) % 2 === 0 } }) count: number;
    }

    expect(() => validationSchemas([CustomDto])).toThrow("CustomDto.count cannot be read from its validation: it is checked by the constraint 'isEven'");
  });

  it('should take a hinted custom constraint for the schema it gives', () => {
    class HintedDto {
      @ValidateBy({ name: 'isEven', validator: { validate: (value) => Number(value) % 2 === 0 } }, schemaHint({ schema: { type: 'integer', multipleOf: 2 }, note: 'Even.' }))
      count: number;
    }

    expect(validationSchemas([HintedDto]).HintedDto.properties).toEqual({ count: { type: 'integer', multipleOf: 2, description: 'Even.' } });
  });

  it('should refuse a condition that lets more than an absent value through, unless a hint describes it', () => {
    class ConditionalDto {
      @ValidateIf((_object: object, value: unknown) => value !== 'skip') @IsString() mode: string;
    }

    expect(() => validationSchemas([ConditionalDto])).toThrow('ConditionalDto.mode cannot be read from its validation: it is validated under a condition');
  });

  it('should refuse two rules that say different things of one keyword', () => {
    class TwoTypesDto {
      @IsString() @IsInt() value: string;
    }

    expect(() => validationSchemas([TwoTypesDto])).toThrow(`it is given two values of 'type' ("integer" and "string")`);
  });

  it('should refuse two DTO classes of one name', () => {
    function aDto(): new () => object {
      class SameDto {
        @IsString() name: string;
      }
      return SameDto;
    }

    expect(() => validationSchemas([aDto(), aDto()])).toThrow('Two DTO classes are named SameDto');
  });
});
