import { html, type SafeHtml } from './html.js';
import { formatBytes, formatSeconds } from '../../timeline/format.js';
import type { Boot, BootStage } from '../../timeline/types.js';

export interface NodeView {
  key: string;
  mac: string | null;
  serial: string | null;
  model: string | null;
  arch: string | null;
  hostname: string | null;
  /** What the node boots now (its assignment, once-only, or the default image); null = waits. */
  image: string | null;
  reason: string | null;
  lastBoot: Boot | null;
  lastSeen: number;
}

export interface ImageView {
  name: string;
  version: number;
  arch: string;
  kernelSize: number;
  initrdSize: number | null;
  warnings: string[];
}

const seconds = formatSeconds;
const clock = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const outcomeBadge = (outcome: string) => html`<span class="badge ${outcome}">${outcome}</span>`;

function nodeRow(node: NodeView, now: number): SafeHtml {
  return html`<tr data-node="${node.key}" tabindex="0">
    <td class="mono">${node.mac ?? '-'}</td><td class="mono">${node.serial ?? '-'}</td><td>${node.model ?? '-'}</td>
    <td>${node.arch ?? '-'}</td><td>${node.hostname ?? '-'}</td>
    <td>${node.image ?? html`<em>none</em>`}${node.reason === 'once' ? ' (once)' : node.reason === 'default' ? ' (default)' : ''}</td>
    <td>${node.lastBoot ? outcomeBadge(node.lastBoot.outcome) : '-'}${node.lastBoot?.failure ? html` <span class="code">${node.lastBoot.failure.code}</span>` : ''}</td>
    <td title="${clock(node.lastSeen)}">${ago(node.lastSeen, now)}</td></tr>`;
}

/** One page of the node list, and the nodes that boot nothing (first of them only). */
export interface NodePage {
  nodes: NodeView[];
  /** All nodes, not only this page's. */
  total: number;
  /** 1-based. */
  page: number;
  pages: number;
  waiting: NodeView[];
  waitingTotal: number;
}

function pager(list: NodePage): SafeHtml | string {
  if (list.pages <= 1) return '';
  const button = (page: number, label: string) =>
    html`<button type="button" data-page="${page}"${page < 1 || page > list.pages ? ' disabled' : ''}>${label}</button>`;
  return html`<nav class="pager">${button(list.page - 1, '‹ previous')} page ${list.page} of ${list.pages} ${button(list.page + 1, 'next ›')}</nav>`;
}

/** The known nodes, a page at a time, and, apart, the ones that boot nothing until an image is assigned. */
export function nodesFragment(list: NodePage, now: number): SafeHtml {
  const head = html`<tr><th>MAC</th><th>Serial</th><th>Model</th><th>Arch</th><th>Hostname</th><th>Image</th><th>Last boot</th><th>Last seen</th></tr>`;
  const moreWaiting = list.waitingTotal - list.waiting.length;
  return html`<section id="waiting-section"${list.waitingTotal ? '' : ' hidden'}>
    <h2>Waiting for an image <span class="count">${list.waitingTotal}</span></h2>
    <p class="hint">These nodes asked to boot and have no image (no assignment and no defaultImage). Select one to assign.</p>
    <table class="nodes" id="waiting"><thead>${head}</thead><tbody>${list.waiting.map((node) => nodeRow(node, now))}</tbody></table>
    ${moreWaiting > 0 ? html`<p class="hint">and ${moreWaiting} more (<code>rackboot node list</code> shows them all)</p>` : ''}
  </section>
  <section><h2>Nodes <span class="count">${list.total}</span></h2>
    ${list.total
      ? html`${pager(list)}<table class="nodes" id="nodes" data-page="${list.page}"><thead>${head}</thead><tbody>${list.nodes.map((node) => nodeRow(node, now))}</tbody></table>`
      : html`<p class="hint">No node has asked to boot yet. Nodes appear here on their first DHCP or TFTP request.</p>`}
  </section>`;
}

export function imagesFragment(images: ImageView[]): SafeHtml {
  if (!images.length) return html`<p class="hint">No images yet: <code>rackboot image add</code> or POST /api/v1/images.</p>`;
  return html`<table id="images"><thead><tr><th>Name</th><th>Version</th><th>Arch</th><th>Kernel</th><th>Initramfs</th><th>Pi limits</th></tr></thead><tbody>
    ${images.map(
      (image) => html`<tr class="${image.warnings.length ? 'warn' : ''}"><td>${image.name}</td><td>${image.version}</td><td>${image.arch}</td>
        <td>${formatBytes(image.kernelSize)}</td><td>${image.initrdSize === null ? '-' : formatBytes(image.initrdSize)}</td>
        <td>${image.warnings.length ? html`<ul class="warnings">${image.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>` : 'ok'}</td></tr>`,
    )}</tbody></table>`;
}

function stageRow(stage: BootStage, boot: Boot): SafeHtml {
  const span = Math.max(boot.durationMs, 1);
  const left = ((stage.startedAt - boot.startedAt) / span) * 100;
  const width = Math.max((stage.durationMs / span) * 100, 0.8);
  // An SVG bar, not a styled div: the page's CSP refuses inline style attributes.
  const files = stage.files.length > 4 ? `${stage.files.slice(0, 4).join(', ')} +${stage.files.length - 4}` : stage.files.join(', ');
  const kinds = Object.entries(stage.kinds).map(([kind, count]) => (count > 1 ? `${kind}×${count}` : kind)).join(' ');
  return html`<tr class="stage ${stage.outcome}" data-stage="${stage.name}">
    <td class="stage-name">${stage.name}</td>
    <td class="bar"><svg class="track" viewBox="0 0 100 1" preserveAspectRatio="none"><rect class="fill ${stage.name} ${stage.outcome}" x="${left.toFixed(2)}" width="${width.toFixed(2)}" height="1"/></svg></td>
    <td>+${seconds(stage.startedAt - boot.startedAt)}</td><td>${seconds(stage.durationMs)}</td>
    <td>${stage.bytes ? formatBytes(stage.bytes) : ''}</td><td class="kinds">${kinds}</td><td class="files">${files}</td></tr>`;
}

function bootBlock(boot: Boot, now: number): SafeHtml {
  return html`<article class="boot ${boot.outcome}" data-outcome="${boot.outcome}">
    <header>${outcomeBadge(boot.outcome)} <strong>${clock(boot.startedAt)}</strong> · ${ago(boot.startedAt, now)} ·
      ${seconds(boot.durationMs)} · ${boot.events} events · ${formatBytes(boot.bytes)} over TFTP${boot.image ? html` · image <b>${boot.image}</b>` : ''}</header>
    ${boot.failure
      ? html`<div class="failure"><span class="code">${boot.failure.code}</span> ${boot.failure.message}<br><b>Fix:</b> ${boot.failure.whatToDo}</div>`
      : ''}
    <table class="stages"><thead><tr><th>Stage</th><th class="bar">Time line</th><th>Start</th><th>Took</th><th>Bytes</th><th>Events</th><th>Files</th></tr></thead>
      <tbody>${boot.stages.map((stage) => stageRow(stage, boot))}</tbody></table>
    ${boot.console.length
      ? html`<details class="console"><summary>Bootloader console (${boot.console.length} lines)</summary><pre>${boot.console.map((entry) => `+${seconds(entry.at - boot.startedAt)} ${entry.line}\n`).join('')}</pre></details>`
      : ''}
  </article>`;
}

/** One node: what it boots, the admin actions, and its last boots newest first. */
export function timelineFragment(node: NodeView, boots: Boot[], images: string[], now: number): SafeHtml {
  const newest = boots.slice(-5).reverse();
  return html`<div id="timeline" data-node="${node.key}">
    <h2>${node.hostname ?? node.mac ?? node.serial} <span class="sub mono">${[node.mac, node.serial].filter(Boolean).join(' · ')}</span></h2>
    <p>${node.model ?? 'unknown model'} · ${node.arch ?? 'unknown arch'} · boots <b>${node.image ?? 'nothing (waiting)'}</b>${node.reason ? ` (${node.reason})` : ''}</p>
    <form id="assign" class="actions">
      <label>Image <select name="image">${node.image ? '' : html`<option value="" selected disabled>choose</option>`}${images.map((name) => html`<option${name === node.image ? ' selected' : ''}>${name}</option>`)}</select></label>
      <label><input type="checkbox" name="once"> next boot only</label>
      <button type="submit" data-action="assign">Assign</button>
      <button type="button" data-action="unassign">Unassign</button>
      <button type="button" data-action="rollback">Rollback</button>
    </form>
    ${newest.length ? newest.map((boot) => bootBlock(boot, now)) : html`<p class="hint">No boot events yet.</p>`}
  </div>`;
}

export function notSeenFragment(key: string): SafeHtml {
  return html`<div id="timeline" data-node="${key}"><h2>${key}</h2>
    <p class="hint">Not seen yet: this node appears with its first DHCP, TFTP or HTTP request, and its boot shows here live.</p></div>`;
}

export function pageHtml(parts: { nodes: SafeHtml; images: SafeHtml; timeline: SafeHtml | null; version: string }): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rackboot</title><link rel="stylesheet" href="/ui/app.css"></head>
<body>
<header class="top"><h1>rackboot</h1><span class="sub">v${parts.version}</span>
  <span id="live" class="live off" title="live event stream">live</span>
  <form id="token-form"><label>Admin token <input id="token" type="password" autocomplete="off" placeholder="http.adminToken"></label>
  <button type="submit">Use</button></form>
  <span id="status" role="status"></span></header>
<main>
  <div class="left"><div id="nodes-panel">${parts.nodes}</div>
    <section><h2>Images</h2><div id="images-panel">${parts.images}</div></section></div>
  <div class="right" id="timeline-panel">${parts.timeline ?? html`<p class="hint">Select a node to see its boots live.</p>`}</div>
</main>
<script src="/ui/app.js"></script>
</body></html>`;
}
