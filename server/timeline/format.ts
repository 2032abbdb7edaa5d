import type { Boot } from './types.js';

/** Sizes, durations, times and images as the page and the CLI show them. */
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

/** The image a boot was served, e.g. `rescue v2 (once)`. */
export function servedImage(boot: Pick<Boot, 'image' | 'version' | 'reason'>): string {
  return `${boot.image ?? 'none'}${boot.version === null ? '' : ` v${boot.version}`}${boot.reason ? ` (${boot.reason})` : ''}`;
}
