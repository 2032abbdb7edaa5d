import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { html } from '../server/http/page/html.js';
import { nodesFragment, timelineFragment, type NodeView } from '../server/http/page/views.js';
import type { Boot } from '../server/timeline/types.js';
import { overviewFragment, type RackView } from '../server/http/page/overview.js';

const hostile = '<img src=x onerror=alert(1)>"\'&';

const node: NodeView = {
  key: 'aa:bb:cc:dd:ee:ff',
  mac: 'aa:bb:cc:dd:ee:ff',
  serial: null,
  model: hostile,
  arch: 'arm64',
  hostname: hostile,
  image: hostile,
  reason: 'assigned',
  lastBoot: null,
  lastSeen: Date.UTC(2026, 0, 1),
};

describe('page HTML: operator- and node-supplied text is escaped', () => {
  it('html`` escapes values, passes nested html and arrays through', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${hostile}${inner}${[inner, 'x&y']}${null}${false}${0}</p>`.text,
      '<p>&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;<b>&lt;i&gt;</b><b>&lt;i&gt;</b>x&amp;y0</p>');
  });

  it('hostnames, models and image names cannot inject markup into the node list or the timeline', () => {
    for (const text of [nodesFragment({ nodes: [node], total: 1, page: 1, pages: 1, waitingTotal: 0 }, Date.UTC(2026, 0, 1)).text, timelineFragment(node, [], [hostile], Date.UTC(2026, 0, 1)).text]) {
      assert.doesNotMatch(text, /<img/);
      assert.match(text, /&lt;img src=x onerror=alert\(1\)&gt;/);
    }
  });
});

describe('page HTML: what a new operator tripped on', () => {
  const now = Date.UTC(2026, 0, 1, 12);
  const bare: NodeView = { ...node, hostname: null, model: null, image: null, reason: null };
  const httpBoot: Boot = {
    startedAt: now - 5000, endedAt: now - 4000, durationMs: 1000, outcome: 'served', failure: null, image: 'rack', version: 1, reason: 'assigned', assignment: 1, bytes: 0, events: 1, console: [],
    stages: [{ name: 'http', startedAt: now - 5000, endedAt: now - 4000, durationMs: 1000, events: 1, bytes: 0, files: ['vmlinuz'], kinds: { 'http-file': 1 }, outcome: 'ok' }],
  };

  it('a node without hostname is titled by its MAC, shown once', () => {
    const text = timelineFragment(bare, [], [], now).text;
    const header = /<h2>.*?<\/h2>/s.exec(text)![0];
    assert.equal(header.split('aa:bb:cc:dd:ee:ff').length - 1, 1, header);
  });

  it('one boot of one event over HTTP only: "1 event", and no TFTP bytes', () => {
    const text = timelineFragment(bare, [httpBoot], [], now).text;
    assert.match(text, /· 1 event ·/);
    assert.doesNotMatch(text, /1 events|over TFTP/);
    const tftp = { ...httpBoot, events: 2, bytes: 0, stages: [{ ...httpBoot.stages[0]!, name: 'tftp' as const }] };
    assert.match(timelineFragment(bare, [tftp], [], now).text, /2 events · 0 B over TFTP/);
  });

  it('ages are <time data-at> for the script to tick', () => {
    const text = nodesFragment({ nodes: [{ ...node, lastSeen: now - 12_000 }], total: 1, page: 1, pages: 1, waitingTotal: 0 }, now).text;
    assert.match(text, new RegExp(`<time datetime="[^"]+" data-at="${now - 12_000}" title="[^"]+">12 s ago</time>`));
  });
});

describe('page HTML: the rack at a glance', () => {
  it('marks a TFTP storm from half the read buffers, and escapes failed nodes\' names', () => {
    const rack = (bufferedBytes: number): RackView => ({
      nodes: { total: 3, seenLately: 2, assigned: 1, once: 0, default: 1, waiting: 1 },
      lateMs: 600_000,
      boots: { outcomes: { failed: 1 }, failures: [{ key: 'aa:bb:cc:dd:ee:ff', name: hostile, boot: { startedAt: 0, endedAt: 1, durationMs: 1, outcome: 'failed', stages: [], failure: null, image: null, version: null, reason: null, assignment: null, bytes: 0, events: 1, console: [] } }], since: 0, truncated: false },
      tftp: { inFlight: 40, bufferedBytes, maxBufferBytes: 1000, peakBytes: 900, errors: 0, retransmits: 3 },
    });
    const calm = overviewFragment(rack(499), 10).text;
    const storm = overviewFragment(rack(500), 10).text;
    assert.doesNotMatch(calm, /storm/);
    assert.match(storm, /class="tile buffers storm"/);
    assert.match(storm, /<b>50 %<\/b>/);
    assert.match(storm, /data-count="waiting"><b>1<\/b>/);
    assert.doesNotMatch(storm, /<img/);
  });
});
