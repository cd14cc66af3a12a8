import { TransformationType } from 'class-transformer';
import type { MetadataStorage as TransformerMetadataStorage } from 'class-transformer/types/MetadataStorage';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- class-transformer exports its metadata only from here
const { defaultMetadataStorage: transformerMetadata } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: TransformerMetadataStorage };

type DtoClass = new () => object;
type JsonObject = Record<string, unknown>;

/**
 * What a DTO's `@Transform` does, said for the compiled validator: class-transformer keeps only the
 * function, which builds class instances.
 * - `sent`: the value as it was sent (class-transformer's copy of it is discarded);
 * - `nestedArraysRefused`: the value as built, each element of it that is an array replaced by null;
 * - `variant`: an object is built as the class `variantOf` names for it, anything else kept as sent;
 *   with `each`, so is every element of an array, an element that is an array replaced by null, and
 *   anything but an array kept as sent. `variants` lists every class `variantOf` may name.
 */
export type TransformShape =
  | { kind: 'sent' }
  | { kind: 'nestedArraysRefused' }
  | { kind: 'variant'; variantOf: (value: JsonObject) => DtoClass; variants: DtoClass[]; each: boolean };

const shapes = new WeakMap<object, TransformShape>();

/** `transform`, said to do what `shape` says; the compiled validator refuses a DTO with a transform said nothing of. */
export function shapedTransform<T extends object>(shape: TransformShape, transform: T): T {
  shapes.set(transform, shape);
  return transform;
}

export function shapeOfTransform(transform: object): TransformShape | undefined {
  return shapes.get(transform);
}

/**
 * The shape of the @Transform that builds `dto[name]`, as class-transformer applies it without groups asked for:
 * undefined without one, `undescribed` for one that no shapedTransform() (or more than one transform) describes.
 */
export function transformShapeOf(dto: DtoClass, name: string): TransformShape | 'undescribed' | undefined {
  const transforms = transformerMetadata
    .findTransformMetadatas(dto, name, TransformationType.PLAIN_TO_CLASS)
    .filter((transform) => !transform.options?.groups?.length);
  if (transforms.length === 0) return undefined;
  return (transforms.length === 1 ? shapeOfTransform(transforms[0].transformFn) : undefined) ?? 'undescribed';
}
