import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export class TemplateError extends Error {
  readonly code = 'RB_TEMPLATE';
}

export type TemplateVars = Record<string, string | number | null | undefined>;

/**
 * `{{name}}` is replaced by the variable; a line starting with `?name ` is kept (without the
 * marker) only when `name` is non-empty. Unknown names are errors, so a typo in an operator's
 * template fails loudly instead of booting a node with a blank argument.
 */
export function renderTemplate(source: string, vars: TemplateVars, origin: string): string {
  const value = (name: string): string => {
    if (!(name in vars)) {
      throw new TemplateError(`${origin}: unknown template variable {{${name}}}; known: ${Object.keys(vars).sort().join(', ')}`);
    }
    return String(vars[name] ?? '');
  };
  return source
    .split('\n')
    .flatMap((line) => {
      const conditional = /^\?(\w+) (.*)$/.exec(line);
      if (!conditional) return [line];
      return value(conditional[1]!) ? [conditional[2]!] : [];
    })
    .join('\n')
    .replace(/\{\{(\w+)\}\}/g, (_, name: string) => value(name));
}

/** How often a template's mtime is checked: edits show up within this, and a boot storm costs no stat per request. */
const RECHECK_MS = 1_000;

/** Reads templates from `<assetsDir>/templates`, re-reading a file when it changes on disk. */
export class TemplateLibrary {
  private readonly cache = new Map<string, { mtimeMs: number; checkedAt: number; text: string }>();

  constructor(private readonly dir: string) {}

  source(name: string, now = performance.now()): string {
    const cached = this.cache.get(name);
    if (cached && now - cached.checkedAt < RECHECK_MS) return cached.text;
    const file = path.join(this.dir, name);
    let mtimeMs: number;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      throw new TemplateError(`template ${file} is missing: restore it from rackboot's boot-assets/templates`);
    }
    const text = cached?.mtimeMs === mtimeMs ? cached.text : readFileSync(file, 'utf8');
    this.cache.set(name, { mtimeMs, checkedAt: now, text });
    return text;
  }

  render(name: string, vars: TemplateVars): string {
    return renderTemplate(this.source(name), vars, name);
  }
}
