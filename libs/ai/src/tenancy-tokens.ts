/**
 * What the module's core (AiService, its shutdown, the alerts) takes from the parts that exist only with a database.
 * Tokens rather than classes, so that the core loads none of those parts' code; each is absent without a database.
 */

/** JobsService: asynchronous jobs. */
export const JOBS = Symbol('JobsService');
/** JobRunner, which the module's ordered shutdown stops first. */
export const JOB_RUNNER = Symbol('JobRunner');
/** QuotaService, whose views the quota alerts watch. */
export const QUOTA_VIEWS = Symbol('QuotaService');
