import { Exclude, Expose, Transform, Type } from 'class-transformer';
import {
  Allow,
  ArrayMinSize,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Validate,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  ValidatePromise,
  ValidationArguments,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { ChatCompletionRequestDto } from '../chat/chat-completion-request.dto';
import { compileValidator } from './compiled-validator';
import { shapedTransform } from './compiled-validator-transforms';
import { GatewayHttpException } from './gateway-http.exception';
import { OpenAiValidationPipe } from './validation.pipe';

// Constructs the chat DTOs do not use (yet), each checked against class-validator.

class LeafDto {
  @IsString({ message: '$property of $target must be a string, not $value' }) label: string;
  @IsOptional() @IsInt({ each: true, message: (args: ValidationArguments) => `whole numbers for ${args.property}` }) counts?: number[];
}

class TreeDto {
  @IsDefined({ message: 'name it' }) @IsString({ message: 'a string' }) @MaxLength(3, { message: 'short' }) @IsString({ message: 'a string, again' }) name: string;
  @Allow() note?: unknown;
  @IsOptional() @ValidateNested() @Type(() => LeafDto) leaf?: LeafDto | LeafDto[][];
  @IsOptional() @ValidateNested({ each: true }) @Type(() => TreeDto) children?: TreeDto[];
  @IsOptional() @ValidateNested() loose?: object;
  @IsOptional() @IsArray() @ArrayMinSize(1) @IsIn(['a', 'b'], { each: true, message: "'a' or 'b'" }) tags?: string[];
  @ValidateIf((tree: TreeDto) => tree.name === 'req') @IsString({ message: 'required when name is req' }) extra?: string;
  @IsOptional() @IsObject() @Transform(shapedTransform({ kind: 'sent' }, ({ obj, key }) => (obj as Record<string, unknown>)[key])) raw?: object;
}

const SAME_AS_CLASS_VALIDATOR: Array<[string, unknown]> = [
  ['a valid tree', { name: 'abc', note: { any: [1] }, leaf: { label: 'x', counts: [1, 2] }, children: [{ name: 'k', children: [] }], tags: ['a'], raw: { toString: 1 } }],
  ['no name', {}],
  ['a null name', { name: null }],
  ['a long name (the first failing constraint, then its last message)', { name: 'abcd' }],
  ['a number as name', { name: 7 }],
  ['a message with tokens', { name: 'a', leaf: { label: 5 } }],
  ['a message function on each element', { name: 'a', leaf: { label: 'x', counts: [1, 1.5] } }],
  ['arrays of arrays of a nested class', { name: 'a', leaf: [[{ label: 'x' }, { label: 3 }]] }],
  ['a primitive inside nested arrays', { name: 'a', leaf: [[{ label: 'x' }, 'x']] }],
  ['a class nested in itself', { name: 'a', children: [{ name: 'b', children: [{ name: 'toolong' }] }] }],
  ['an unknown field deep down', { name: 'a', children: [{ name: 'b', leaf: { label: 'x', colour: 'red' } }] }],
  ['an inherited member deep down', { name: 'a', children: [{ name: 'b', leaf: { label: 'x', valueOf: 1 } }] }],
  ['a plain object where a nested class is expected', { name: 'a', loose: { first: 1, second: 2 } }],
  ['an empty plain object where a nested class is expected', { name: 'a', loose: {} }],
  ['a primitive where a nested class is expected', { name: 'a', loose: 3 }],
  ['a wrong element under each', { name: 'a', tags: ['a', 'c'] }],
  ['a condition on another field', { name: 'req' }],
  ['a condition on another field, met', { name: 'req', extra: 'x' }],
  ['an unknown field and a wrong value', { colour: 'red', name: 5 }],
  ['unknown fields, a numeric one among them', { name: 'a', b: 1, a: 2, 1: 3 }],
];

describe(compileValidator.name, () => {
  const classValidatorPipe = new OpenAiValidationPipe();
  const compiledPipe = new OpenAiValidationPipe([TreeDto]);

  async function outcomeOf(pipe: OpenAiValidationPipe, body: unknown): Promise<unknown> {
    try {
      // Parsed, as Fastify parses it (structuredClone would build objects of another realm under Jest).
      const value: unknown = await pipe.transform(JSON.parse(JSON.stringify(body)), { type: 'body', metatype: TreeDto, data: undefined });
      return { accepted: value, json: JSON.stringify(value) };
    } catch (error) {
      if (error instanceof GatewayHttpException) return { refused: error.fields };
      throw error;
    }
  }

  it.each(SAME_AS_CLASS_VALIDATOR)('should answer %s as class-validator does', async (_case, body) => {
    const compiled = await outcomeOf(compiledPipe, body);

    expect(compiled).toEqual(await outcomeOf(classValidatorPipe, body));
    expect(compiled).not.toMatchObject({ accepted: expect.any(TreeDto) });
  });

  it('should say what class-validator says, in OpenAI’s words', async () => {
    const bodies = [{ name: 'abcd' }, { name: 'a', leaf: [[{ label: 'x' }, { label: 3 }]] }, { name: 'a', b: 1, a: 2 }];

    const answers = await Promise.all(bodies.map((body) => outcomeOf(compiledPipe, body)));

    expect(answers).toEqual([
      { refused: expect.objectContaining({ param: 'name', message: "Invalid 'name': short." }) },
      { refused: expect.objectContaining({ param: 'leaf[0][1].label', message: "Invalid 'leaf[0][1].label': label of LeafDto must be a string, not 3." }) },
      { refused: expect.objectContaining({ param: 'b', message: expect.stringContaining("argument supplied: 'b'. Allowed in the request: name, note, leaf") }) },
    ]);
  });

  it('should hand on plain objects, with the fields sent in the order the DTO declares them, and an opaque value as the very object sent', () => {
    const raw = { kept: true };
    const validate = compileValidator(TreeDto);

    const { value, problem } = validate({ raw, children: [{ name: 'b' }], name: 'a' });

    expect(problem).toBeUndefined();
    expect(JSON.stringify(value)).toBe('{"name":"a","children":[{"name":"b"}],"raw":{"kept":true}}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(value?.raw).toBe(raw);
  });

  it("should call class-validator's constraint object with the arguments its executor passes, the object being the plain one built", () => {
    const seen: ValidationArguments[] = [];
    class CheckedDto {
      @ValidateBy({ name: 'recorded', constraints: [42], validator: { validate: (_value: unknown, args?: ValidationArguments) => seen.push({ ...args! }) > 0 } })
      field: string;
    }

    compileValidator(CheckedDto)({ field: 'x' });

    expect(seen).toEqual([{ targetName: 'CheckedDto', property: 'field', object: { field: 'x' }, value: 'x', constraints: [42] }]);
  });

  describe('what it cannot compile', () => {
    class Untyped {}

    class UnsaidTransformDto {
      @IsString() @Transform(({ value }) => String(value)) field: string;
    }
    class ExposedDto {
      @Expose({ name: 'other' }) @IsString() field: string;
    }
    @Exclude()
    class ExcludedDto {
      @IsString() field: string;
    }
    @ValidatorConstraint({ name: 'later', async: true })
    class Later implements ValidatorConstraintInterface {
      validate(): Promise<boolean> {
        return Promise.resolve(true);
      }
    }
    class AsyncDto {
      @Validate(Later) field: string;
    }
    class PromiseDto {
      @ValidatePromise() @IsString() field: string;
    }
    class DefaultDto {
      @IsString() field = 'default';
    }
    class MethodDto {
      @IsString() field: string;
      describe(): string {
        return this.field;
      }
    }
    class UnruledDto {
      @IsString() field: string;
      other: string;
    }
    class DiscriminatedDto {
      @ValidateNested() @Type(() => Untyped, { discriminator: { property: 'kind', subTypes: [{ name: 'a', value: Untyped }] } }) field: object;
    }
    class ConvertedDto {
      @IsString() @Type(() => String) field: string;
    }
    class ValueTypedDto {
      @ValidateNested() @Type((options) => (options?.object ? Untyped : Object)) field: object;
    }
    class NestedUnreadableDto {
      @ValidateNested() @Type(() => DefaultDto) field: DefaultDto;
    }

    it.each<[string, new () => object, RegExp]>([
      ['a @Transform not described', UnsaidTransformDto, /UnsaidTransformDto\.field: .*@Transform/],
      ['an @Expose', ExposedDto, /ExposedDto\.field: .*exposed or excluded/],
      ['an @Exclude of the whole class', ExcludedDto, /ExcludedDto: .*as a whole/],
      ['an async constraint', AsyncDto, /AsyncDto\.field: .*async constraint 'later'/],
      ['a @ValidatePromise', PromiseDto, /PromiseDto\.field: .*'promiseValidation'/],
      ['a default value', DefaultDto, /DefaultDto\.field: .*default value/],
      ['a method', MethodDto, /MethodDto\.describe: .*method/],
      ['a field without a rule', UnruledDto, /UnruledDto\.other: .*without a validation rule/],
      ["class-transformer's discriminator", DiscriminatedDto, /DiscriminatedDto\.field: .*discriminator/],
      ['a @Type that converts', ConvertedDto, /ConvertedDto\.field: .*String/],
      ['a @Type that depends on the value', ValueTypedDto, /ValueTypedDto\.field: .*function of the value/],
      ['a nested class it cannot compile', NestedUnreadableDto, /DefaultDto\.field: .*default value/],
    ])('should refuse %s when compiling, naming where', (_case, dto, message) => {
      expect(() => compileValidator(dto)).toThrow(message);
    });

    it('should refuse it when the pipe is built, that is at start-up', () => {
      expect(() => new OpenAiValidationPipe([DefaultDto])).toThrow(/DefaultDto\.field/);
    });
  });
});

describe(OpenAiValidationPipe.name, () => {
  class OtherDto {
    @IsString() name: string;
  }

  it('should validate a DTO it has compiled with the compiled rules, and any other with class-validator', async () => {
    const pipe = new OpenAiValidationPipe([ChatCompletionRequestDto]);

    const chat = await pipe.transform({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { type: 'body', metatype: ChatCompletionRequestDto });
    const other = await pipe.transform({ name: 'x' }, { type: 'body', metatype: OtherDto });

    expect(Object.getPrototypeOf(chat)).toBe(Object.prototype);
    expect(other).toBeInstanceOf(OtherDto);
  });
});
