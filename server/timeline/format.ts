/** Sizes, durations and times as the page and the CLI show them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** ISO 8601 to the second (`2026-01-02T03:04:05Z`); null for a time never recorded. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : null;
}
