/** The console's pages, in the order of its navigation bar. */
export const PAGES = [
  ['tenants', 'Tenants'],
  ['keys', 'Keys'],
  ['usage', 'Usage'],
  ['upstream', 'Upstream'],
  ['alerts', 'Alerts'],
] as const;

export type Page = (typeof PAGES)[number][0];
