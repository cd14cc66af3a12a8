import type * as Terminus from '@nestjs/terminus';

let terminus: typeof Terminus | undefined;

/**
 * @nestjs/terminus is an optional peer dependency: it is loaded when a health indicator is first
 * built, so that an application without health checks need not install it.
 */
export function loadTerminus(): typeof Terminus {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    terminus ??= require('@nestjs/terminus') as typeof Terminus;
    return terminus;
  } catch (error) {
    throw new Error("Tollgate's health indicators need @nestjs/terminus: npm install @nestjs/terminus@^11", { cause: error });
  }
}
