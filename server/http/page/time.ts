import { html, type SafeHtml } from './html.js';

export const clock = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** "12 s ago"; boot-assets/page/app.js words ages the same way when it ticks them. */
export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** An age the page's script keeps current without refetching (data-at), the clock time on hover. */
export const timeAgo = (ms: number, now: number): SafeHtml =>
  html`<time datetime="${new Date(ms).toISOString()}" data-at="${ms}" title="${clock(ms)}">${ago(ms, now)}</time>`;

export const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
