import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export class TemplateError extends Error {
  readonly code = 'RB_TEMPLATE';
}

export type TemplateVars = Record<string, string | number | null | undefined>;

/** A template line: kept only when `when` names a non-empty variable (if set), its parts joined. */
interface Line {
  when?: string;
  /** Literal text at even indexes, variable names at odd ones. */
  parts: string[];
}

/** Templates are few and rendered per boot request: each source is parsed once. */
const compiled = new Map<string, Line[]>();
const MAX_COMPILED = 1_000;

function compile(source: string): Line[] {
  let lines = compiled.get(source);
  if (lines) return lines;
  lines = source.split('\n').map((text) => {
    const conditional = /^\?(\w+) (.*)$/.exec(text);
    const variables = /\{\{(\w+)\}\}/;
    return conditional ? { when: conditional[1]!, parts: conditional[2]!.split(variables) } : { parts: text.split(variables) };
  });
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(source, lines);
  return lines;
}

function value(vars: TemplateVars, name: string, origin: string): string {
  // Own properties only: `{{constructor}}` must be an unknown variable, not Object's constructor.
  if (!Object.hasOwn(vars, name)) {
    throw new TemplateError(`${origin}: unknown template variable {{${name}}}; known: ${Object.keys(vars).sort().join(', ')}`);
  }
  const text = vars[name];
  return text === null || text === undefined ? '' : String(text);
}

/** Every variable a template names, in `{{name}}` or as a `?name ` condition. */
export function templateVariables(source: string): Set<string> {
  const names = new Set<string>();
  for (const line of compile(source)) {
    if (line.when !== undefined) names.add(line.when);
    for (let index = 1; index < line.parts.length; index += 2) names.add(line.parts[index]!);
  }
  return names;
}

/**
 * `{{name}}` is replaced by the variable; a line starting with `?name ` is kept (without the
 * marker) only when `name` is non-empty. Unknown names are errors, so a typo in an operator's
 * template fails loudly instead of booting a node with a blank argument. Plain loops, no
 * closures: this runs for every chain script and every generated Pi file.
 */
export function renderTemplate(source: string, vars: TemplateVars, origin: string): string {
  let out = '';
  let kept = 0;
  for (const line of compile(source)) {
    if (line.when !== undefined && !value(vars, line.when, origin)) continue;
    if (kept++) out += '\n';
    const { parts } = line;
    for (let index = 0; index < parts.length; index++) out += index % 2 ? value(vars, parts[index]!, origin) : parts[index]!;
  }
  return out;
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
