import { html, type SafeHtml } from './html.js';
import { plural, timeAgo } from './time.js';
import { formatBytes } from '../../timeline/format.js';
import type { Boot, BootOutcome } from '../../timeline/types.js';

/** The rack at a glance, from counts and a bounded read of the newest events, never node by node. */
export interface RackView {
  nodes: { total: number; seenLately: number; assigned: number; once: number; default: number; waiting: number };
  /** What "lately" means for seenLately. */
  lateMs: number;
  boots: {
    outcomes: Partial<Record<BootOutcome, number>>;
    failures: { key: string; name: string; boot: Boot }[];
    since: number | null;
    truncated: boolean;
  };
  /** Null until the TFTP server listens. */
  tftp: { inFlight: number; bufferedBytes: number; maxBufferBytes: number; peakBytes: number; errors: number; retransmits: number } | null;
}

/** Buffer use from which the TFTP panel calls it a storm: transfers will soon wait for memory. */
const STORM_SHARE = 0.5;

const tile = (name: string, count: number, label: string, extra?: SafeHtml | string) =>
  html`<div class="tile ${name}" data-count="${name}"><b>${count}</b> ${label}${extra ?? ''}</div>`;

function nodeTiles({ nodes, lateMs }: RackView): SafeHtml {
  const how = [
    nodes.assigned && `${nodes.assigned} assigned`,
    nodes.once && `${nodes.once} once`,
    nodes.default && `${nodes.default} by default`,
  ].filter(Boolean);
  return html`<div class="tiles">
    ${tile('total', nodes.total, 'nodes')}
    ${tile('seen', nodes.seenLately, `seen in the last ${Math.round(lateMs / 60_000)} min`)}
    ${tile('with-image', nodes.assigned + nodes.once + nodes.default, 'with an image', how.length ? html`<span class="sub">${how.join(', ')}</span>` : '')}
    ${tile('waiting', nodes.waiting, 'waiting for an image')}
  </div>`;
}

const OUTCOMES: [BootOutcome, string][] = [
  ['booted', 'booted'],
  ['in-progress', 'booting now'],
  ['served', 'served, no callback'],
  ['waiting', 'waiting'],
  ['failed', 'failed'],
];

function bootTiles({ boots }: RackView, now: number): SafeHtml {
  if (boots.since === null) return html`<p class="hint">No boot events yet.</p>`;
  return html`<div class="tiles">${OUTCOMES.map(([outcome, label]) => tile(`boot-${outcome}`, boots.outcomes[outcome] ?? 0, label))}</div>
    <p class="hint">The newest boot of each node in ${boots.truncated ? 'the newest' : 'all'} events since ${timeAgo(boots.since, now)}.</p>`;
}

function failures({ boots }: RackView, now: number): SafeHtml {
  if (!boots.failures.length) return html`<p class="hint">No failed boot among them.</p>`;
  return html`<table id="failures"><tbody>${boots.failures.map(
    ({ key, name, boot }) => html`<tr data-node="${key}" tabindex="0"><td><span class="clip" title="${name}">${name}</span></td>
      <td><span class="code" title="${boot.failure?.message ?? ''}">${boot.failure?.code ?? 'failed'}</span></td>
      <td class="seen">${timeAgo(boot.endedAt, now)}</td></tr>`,
  )}</tbody></table>`;
}

function tftpPanel({ tftp }: RackView): SafeHtml {
  if (!tftp) return html`<p class="hint">The TFTP server is not listening.</p>`;
  const share = tftp.maxBufferBytes ? tftp.bufferedBytes / tftp.maxBufferBytes : 0;
  const storm = share >= STORM_SHARE;
  return html`<div class="tiles">
      ${tile('tftp-in-flight', tftp.inFlight, tftp.inFlight === 1 ? 'transfer in flight' : 'transfers in flight')}
      <div class="tile buffers${storm ? ' storm' : ''}" data-count="tftp-buffers" title="tftp.maxBufferBytes caps it; the peak since start was ${formatBytes(tftp.peakBytes)}">
        <b>${Math.round(share * 100)} %</b> of read buffers
        <meter min="0" max="${tftp.maxBufferBytes}" low="${tftp.maxBufferBytes * STORM_SHARE}" high="${tftp.maxBufferBytes * 0.9}" optimum="0" value="${tftp.bufferedBytes}"></meter>
        <span class="sub">${formatBytes(tftp.bufferedBytes)} of ${formatBytes(tftp.maxBufferBytes)}${storm ? ' · storm' : ''}</span></div>
    </div>
    <p class="hint">Since start: ${plural(tftp.retransmits, 'block')} sent again, ${plural(tftp.errors, 'transfer')} failed or refused.</p>`;
}

/** The right half before a node is picked: what the rack is doing now. */
export function overviewFragment(rack: RackView, now: number): SafeHtml {
  return html`<div id="overview">
    <h2>Rack at a glance</h2>
    ${nodeTiles(rack)}
    <h3>Last boots</h3>${bootTiles(rack, now)}
    <h3>Recent failures</h3>${failures(rack, now)}
    <h3>TFTP now</h3>${tftpPanel(rack)}
    <p class="hint">Select a node to see its boots live.</p>
  </div>`;
}
