/** People get aligned columns; scripts get `--json`, whose shape is the API's. */
export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const text = (value: unknown) => (value === null || value === undefined ? '-' : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => text(row[column]).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(columns.map((column) => column.toUpperCase())));
  for (const row of rows) console.log(line(columns.map((column) => text(row[column]))));
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function output(json: boolean | undefined, value: Record<string, unknown>[], columns: string[]): void {
  if (json) printJson(value);
  else printTable(value, columns);
}

export { isoTime } from '../timeline/format.js';

/** A warning as two lines, what is wrong and how to fix it, each prefixed with `indent`. */
export function warningLines(warning: { message: string; fix: string }, indent = ''): string[] {
  return [`${indent}warning: ${warning.message}`, `${indent}  fix: ${warning.fix}`];
}
