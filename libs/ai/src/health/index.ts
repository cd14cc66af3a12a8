/**
 * `@tollgate/ai/health`: the terminus health indicators (database, Redis, upstream key, upstream status page), for
 * an application that has `@nestjs/terminus` (an optional peer dependency).
 */
export { AiHealthIndicators } from './ai-health.indicators';
