/** Parsed JSON, and the paths into it that property tests change bodies at. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export type Path = Array<string | number>;

/** Every path in `value`, itself included. */
export function pathsIn(value: Json, path: Path = []): Path[] {
  if (typeof value !== 'object' || value === null) return [path];
  const children = Array.isArray(value)
    ? value.map((child, index) => pathsIn(child, [...path, index]))
    : Object.entries(value).map(([key, child]) => pathsIn(child, [...path, key]));
  return [path, ...children.flat()];
}

/** A copy of `root` with the value at `path` replaced by `change(old)`; `undefined` removes it. */
export function changedAt(root: Json, path: Path, change: (old: Json) => Json | undefined): Json {
  if (path.length === 0) return change(root) ?? null;
  const [head, ...rest] = path;
  const copy = (Array.isArray(root) ? [...root] : { ...(root as JsonObject) }) as Record<string | number, Json>;
  const next = rest.length === 0 ? change(copy[head]) : changedAt(copy[head], rest, change);
  if (next !== undefined) copy[head] = next;
  else if (Array.isArray(copy)) copy.splice(head as number, 1);
  else delete copy[head];
  return copy as Json;
}
