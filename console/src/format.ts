/** `2026-11-24 09:30 UTC`: the same for every operator, whatever their browser's zone. */
export function formatTime(iso: string | number): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

/** Calls cost fractions of a cent: amounts under a dollar keep six decimals. */
export function formatUsd(value: number): string {
  const decimals = value !== 0 && Math.abs(value) < 1 ? 6 : 2;
  return `$${value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })}`;
}

/** A limit, where null means none. */
export function formatLimit(value: number | null, format: (value: number) => string = formatCount): string {
  return value === null ? 'no limit' : format(value);
}
