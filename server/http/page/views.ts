import { html, type SafeHtml } from './html.js';
import { formatBytes, formatSeconds, servedImage } from '../../timeline/format.js';
import { clock, plural, timeAgo } from './time.js';
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
  /** null: never asked to boot (the operator registered it). */
  lastSeen: number | null;
}

export interface ImageView {
  name: string;
  version: number;
  arch: string;
  kernelSize: number;
  initrdSize: number | null;
  warnings: { message: string; fix: string }[];
}

const seconds = formatSeconds;
const outcomeBadge = (outcome: string) => html`<span class="badge ${outcome}">${outcome}</span>`;
const clip = (text: string) => html`<span class="clip" title="${text}">${text}</span>`;

function nodeRow(node: NodeView, now: number): SafeHtml {
  const hardware = [node.arch, node.model].filter(Boolean).join(' · ');
  return html`<tr data-node="${node.key}" tabindex="0" class="${isWaiting(node) ? 'waiting' : 'ready'}">
    <td>${node.hostname ? clip(node.hostname) : '-'}</td>
    <td class="mono" title="${[node.mac, node.serial].filter(Boolean).join(' · ')}">${node.mac ?? node.serial}</td>
    <td>${hardware ? clip(hardware) : '-'}</td>
    <td>${node.image ? clip(node.image) : html`<em>none</em>`}${node.reason === 'once' || node.reason === 'default' ? html` <span class="sub">(${node.reason})</span>` : ''}</td>
    <td class="last-boot">${node.lastBoot ? outcomeBadge(node.lastBoot.outcome) : '-'}${node.lastBoot?.failure ? html` <span class="code" title="${node.lastBoot.failure.message}">${node.lastBoot.failure.code}</span>` : ''}</td>
    <td class="seen">${node.lastSeen === null ? 'never' : timeAgo(node.lastSeen, now)}</td></tr>`;
}

/** One page of the node list: the nodes waiting for an image come first, each node once. */
export interface NodePage {
  nodes: NodeView[];
  /** All nodes, not only this page's. */
  total: number;
  /** 1-based. */
  page: number;
  pages: number;
  /** All nodes that boot nothing until an image is assigned. */
  waitingTotal: number;
}

function pager(list: NodePage): SafeHtml | string {
  if (list.pages <= 1) return '';
  const button = (page: number, label: string) =>
    html`<button type="button" data-page="${page}"${page < 1 || page > list.pages ? ' disabled' : ''}>${label}</button>`;
  return html`<nav class="pager">${button(list.page - 1, '‹ previous')} page ${list.page} of ${list.pages} ${button(list.page + 1, 'next ›')}</nav>`;
}

const COLUMNS = 6;

/** No image, and it asked to boot: a node only the operator registered is not waiting yet. */
const isWaiting = (node: NodeView) => !node.image && node.lastSeen !== null;

/** A heading row where the page's rows go from waiting nodes to the others (and atop each page). */
function groupRow(waiting: boolean, list: NodePage): SafeHtml {
  return waiting
    ? html`<tr class="group waiting"><th colspan="${COLUMNS}">Waiting for an image · ${list.waitingTotal} <span class="hint">(no assignment and no defaultImage): select one to assign</span></th></tr>`
    : html`<tr class="group"><th colspan="${COLUMNS}">The others · ${list.total - list.waitingTotal}</th></tr>`;
}

function nodeRows(list: NodePage, now: number): SafeHtml[] {
  return list.nodes.map((node, i) => {
    const waiting = isWaiting(node);
    const starts = i === 0 ? list.waitingTotal > 0 : waiting !== isWaiting(list.nodes[i - 1]!);
    return html`${starts ? groupRow(waiting, list) : ''}${nodeRow(node, now)}`;
  });
}

/** The known nodes, a page at a time, the ones that boot nothing until an image is assigned first. */
export function nodesFragment(list: NodePage, now: number): SafeHtml {
  const head = html`<tr><th>Hostname</th><th>MAC / serial</th><th>Hardware</th><th>Image</th><th>Last boot</th><th>Last seen</th></tr>`;
  return html`<section id="nodes-section"><h2>Nodes <span class="count">${list.total}</span>${list.waitingTotal ? html` <span class="count waiting">${list.waitingTotal} waiting</span>` : ''}</h2>
    ${list.total
      ? html`${pager(list)}<div class="scroll"><table class="nodes" id="nodes" data-page="${list.page}"><thead>${head}</thead><tbody>${nodeRows(list, now)}</tbody></table></div>`
      : html`<p class="hint">No node has asked to boot yet. Nodes appear here on their first DHCP or TFTP request.</p>`}
  </section>`;
}

export function imagesFragment(images: ImageView[]): SafeHtml {
  if (!images.length) return html`<p class="hint">No images yet: <code>rackboot image add</code> or POST /api/v1/images.</p>`;
  return html`<table id="images"><thead><tr><th>Name</th><th>Version</th><th>Arch</th><th>Kernel</th><th>Initramfs</th><th>Pi limits</th></tr></thead><tbody>
    ${images.map(
      (image) => html`<tr class="${image.warnings.length ? 'warn' : ''}"><td>${image.name}</td><td>${image.version}</td><td>${image.arch}</td>
        <td>${formatBytes(image.kernelSize)}</td><td>${image.initrdSize === null ? '-' : formatBytes(image.initrdSize)}</td>
        <td>${image.warnings.length ? html`<ul class="warnings">${image.warnings.map((warning) => html`<li>${warning.message}<br><span class="fix">fix: ${warning.fix}</span></li>`)}</ul>` : 'ok'}</td></tr>`,
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
    <header>${outcomeBadge(boot.outcome)} <strong>${clock(boot.startedAt)}</strong> · ${timeAgo(boot.startedAt, now)} ·
      ${seconds(boot.durationMs)} · ${plural(boot.events, 'event')}${boot.stages.some((stage) => stage.name === 'tftp') ? ` · ${formatBytes(boot.bytes)} over TFTP` : ''}${boot.image ? html` · image <b>${servedImage(boot)}</b>` : ''}</header>
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

/** The node's name, then the keys it is not named by (a node without hostname is named by its MAC, shown once). */
function nodeTitle(node: NodeView): SafeHtml {
  const name = node.hostname ?? node.mac ?? node.serial;
  const others = [node.mac, node.serial].filter((key) => key && key !== name);
  return html`${name}${others.length ? html` <span class="sub mono">${others.join(' · ')}</span>` : ''}`;
}

/** One node: what it boots, the admin actions, and its last boots newest first. */
export function timelineFragment(node: NodeView, boots: Boot[], images: string[], now: number): SafeHtml {
  const newest = boots.slice(-5).reverse();
  return html`<div id="timeline" data-node="${node.key}">
    <h2>${nodeTitle(node)}</h2>
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

/** `right`: the selected node's timeline, or the rack overview. */
export function pageHtml(parts: { nodes: SafeHtml; images: SafeHtml; right: SafeHtml; version: string }): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>rackboot</title><link rel="icon" href="/ui/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/ui/app.css"></head>
<body>
<header class="top"><h1><a href="/" title="the rack at a glance">rackboot</a></h1><span class="sub">v${parts.version}</span>
  <span id="live" class="live off" title="live event stream">live</span>
  <form id="token-form"><label>Admin token <input id="token" type="password" autocomplete="off" placeholder="http.adminToken"></label>
  <button type="submit">Use</button></form>
  <span id="status" role="status"></span></header>
<main>
  <div class="left"><div id="nodes-panel">${parts.nodes}</div>
    <section id="images-section"><h2>Images</h2><div id="images-panel">${parts.images}</div></section></div>
  <div class="right" id="timeline-panel">${parts.right}</div>
</main>
<script src="/ui/app.js"></script>
</body></html>`;
}
