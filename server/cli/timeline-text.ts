import { isoTime } from './output.js';
import { formatBytes, formatSeconds, servedImage } from '../timeline/format.js';
import type { Boot } from '../timeline/types.js';

const FILES_SHOWN = 5;

/** A boot as indented lines: one per stage, then the failure and its fix. */
export function bootLines(boot: Boot): string[] {
  const lines = [
    `${boot.outcome}  started ${isoTime(boot.startedAt)}  took ${formatSeconds(boot.durationMs)}  ${formatBytes(boot.bytes)} over TFTP${boot.image ? `  image ${servedImage(boot)}` : ''}`,
  ];
  for (const stage of boot.stages) {
    const kinds = Object.entries(stage.kinds).map(([kind, count]) => (count > 1 ? `${kind}x${count}` : kind)).join(' ');
    const files = stage.files.length
      ? `  files: ${stage.files.slice(0, FILES_SHOWN).join(', ')}${stage.files.length > FILES_SHOWN ? ` +${stage.files.length - FILES_SHOWN}` : ''}`
      : '';
    const bytes = stage.bytes ? `  ${formatBytes(stage.bytes)}` : '';
    lines.push(
      `  ${`+${formatSeconds(stage.startedAt - boot.startedAt)}`.padStart(9)}  ${stage.name.padEnd(6)} ${formatSeconds(stage.durationMs).padStart(8)}  ${stage.outcome.padEnd(7)} ${kinds}${bytes}${files}`,
    );
  }
  if (boot.failure) lines.push(`  ${boot.failure.code}: ${boot.failure.message}`, `  fix: ${boot.failure.whatToDo}`);
  return lines;
}
