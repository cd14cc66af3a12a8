import type * as Terminus from '@nestjs/terminus';
import { requireOptional } from '../common/optional-package';

let terminus: typeof Terminus | undefined;

/**
 * @nestjs/terminus is an optional peer dependency: it is loaded when a health indicator is first
 * built, so that an application without health checks need not install it.
 */
export function loadTerminus(): typeof Terminus {
  terminus ??= requireOptional<typeof Terminus>('@nestjs/terminus', "Tollgate's health indicators", '@nestjs/terminus@^11');
  return terminus;
}
