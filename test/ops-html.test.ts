import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { html } from '../server/http/page/html.js';
import { nodesFragment, timelineFragment, type NodeView } from '../server/http/page/views.js';

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
    for (const text of [nodesFragment({ nodes: [node], total: 1, page: 1, pages: 1, waiting: [], waitingTotal: 0 }, Date.UTC(2026, 0, 1)).text, timelineFragment(node, [], [hostile], Date.UTC(2026, 0, 1)).text]) {
      assert.doesNotMatch(text, /<img/);
      assert.match(text, /&lt;img src=x onerror=alert\(1\)&gt;/);
    }
  });
});
