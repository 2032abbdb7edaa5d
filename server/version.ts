import { readFileSync } from 'node:fs';

/** package.json's version: what `rackboot --version` and the page show. */
export const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
