import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, fitToLimits, formatIssueNotification, truncateCodePoints, type SentryIssueLike } from './format.ts';
import { codePointLength } from './limits.ts';
import { priorityForLevel } from './types.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Fails on anything Pushover would receive damaged: lone surrogates, U+FFFD, URIError. */
function assertWellFormed(text: string): void {
  assert.ok(!LONE_SURROGATE.test(text), `lone surrogate in ${JSON.stringify(text)}`);
  assert.ok(!text.includes('\uFFFD'));
  encodeURIComponent(text); // throws URIError on a lone surrogate
  assert.equal(new TextDecoder().decode(new TextEncoder().encode(text)), text);
}

describe('truncateCodePoints', () => {
  it('leaves text within the limit alone (an emoji counts one)', () => {
    assert.equal(truncateCodePoints('a😀b', 3), 'a😀b');
    assert.equal(truncateCodePoints('', 5), '');
  });

  it('cuts with an ellipsis and never splits a surrogate pair', () => {
    assert.equal(truncateCodePoints('ab😀c', 3), 'ab…');
    assert.equal(truncateCodePoints('a😀bc', 3), 'a😀…');
    assert.equal(truncateCodePoints('😀'.repeat(300), 250), `${'😀'.repeat(249)}…`);
    assert.equal(truncateCodePoints('abc', 1), '…');
    assert.equal(truncateCodePoints('abc', 0), '');
  });

  it('keeps a base letter with its combining mark, and ZWJ emoji sequences whole', () => {
    assert.equal(truncateCodePoints('abe\u0301xyz', 4), 'ab…'); // é as e + U+0301 is one grapheme of 2 code points
    assert.equal(truncateCodePoints('abe\u0301xyz', 5), 'abe\u0301…');
    const family = '👨\u200D👩\u200D👧'; // 5 code points, one grapheme
    assert.equal(truncateCodePoints(`x${family}yz`, 5), 'x…');
    assert.equal(truncateCodePoints(`x${family}yz`, 7), `x${family}…`);
    assert.equal(truncateCodePoints('🇫🇷🇩🇪🇮🇹', 4), '🇫🇷…'); // flags are pairs of regional indicators
  });

  it('falls back to code points when one grapheme is longer than the room', () => {
    const zalgo = `a${'\u0301'.repeat(20)}`;
    const out = truncateCodePoints(zalgo, 5);
    assert.equal(codePointLength(out), 5);
    assert.equal(out, `a${'\u0301'.repeat(3)}…`);
  });

  it('in HTML mode never ends inside an entity or a tag', () => {
    assert.equal(truncateCodePoints('ab &amp; cd', 6, { html: true }), 'ab …');
    assert.equal(truncateCodePoints('ab <b>x</b>', 6, { html: true }), 'ab …');
    assert.equal(truncateCodePoints('ab &amp; cd', 10, { html: true }), 'ab &amp; …');
  });

  it('always returns well-formed text within the limit (randomized over tricky characters)', () => {
    const pieces = ['a', 'é', 'e\u0301', '😀', '👨\u200D👩\u200D👧', '🇫🇷', '\u0301', '中', ' ', '&amp;'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 300; i++) {
      let text = '';
      const n = next() % 60;
      for (let j = 0; j < n; j++) text += pieces[next() % pieces.length];
      const max = 1 + (next() % 40);
      const out = truncateCodePoints(text, max);
      assert.ok(codePointLength(out) <= max);
      assertWellFormed(out);
      if (out !== text) {
        assert.ok(out.endsWith('…'));
        assert.ok(text.startsWith(out.slice(0, -1)));
      }
    }
  });
});

const issue: SentryIssueLike = {
  title: 'TypeError: Cannot read properties of undefined',
  culprit: 'app/views.py in handler',
  level: 'error',
  count: '42',
  firstSeen: '2026-01-02T03:04:05.678Z',
  shortId: 'API-1A',
  permalink: 'https://acme.sentry.io/issues/123/',
  project: { slug: 'api', name: 'API' },
};

describe('formatIssueNotification', () => {
  it('builds title, body, url and url_title', () => {
    assert.deepEqual(formatIssueNotification(issue, { tags: 'sik-k1' }), {
      title: '[api] TypeError: Cannot read properties of undefined',
      message: 'Level: error\nCulprit: app/views.py in handler\nEvents: 42\nFirst seen: 2026-01-02 03:04 UTC\nShort ID: API-1A',
      priority: 0,
      level: 'error',
      url: 'https://acme.sentry.io/issues/123/',
      url_title: 'Open in Sentry',
      tags: 'sik-k1',
    });
  });

  it('maps levels to configurable priorities', () => {
    assert.equal(formatIssueNotification({ ...issue, level: 'fatal' }).priority, 1);
    assert.equal(formatIssueNotification({ ...issue, level: 'info' }).priority, -1);
    assert.equal(formatIssueNotification({ ...issue, level: 'fatal' }, { priorities: { fatal: 2 } }).priority, 2);
    assert.equal(formatIssueNotification({ ...issue, level: 'warning' }, { priorities: { warning: 1 } }).priority, 1);
    assert.equal(priorityForLevel('weird'), 0);
    assert.equal(priorityForLevel(undefined), 0);
  });

  it('HTML mode escapes every value and sets html', () => {
    const m = formatIssueNotification({ ...issue, culprit: '<script>alert("x")</script> & co', level: 'error<b>' }, { html: true });
    assert.equal(m.html, true);
    assert.equal(m.message.split('\n')[0], '<b>Level:</b> error&lt;b&gt;');
    assert.equal(m.message.split('\n')[1], '<b>Culprit:</b> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co');
    assert.equal(escapeHtml('a < b & "c" >'), 'a &lt; b &amp; &quot;c&quot; &gt;');
  });

  it('truncates an over-long title (emoji at the boundary) and culprit, keeping every other line', () => {
    const m = formatIssueNotification({ ...issue, title: `${'x'.repeat(240)}${'😀'.repeat(20)}`, culprit: `${'c'.repeat(2000)}` });
    assert.equal(codePointLength(m.title!), 250);
    assert.ok(m.title!.endsWith('😀…'));
    assertWellFormed(m.title!);
    assert.equal(codePointLength(m.message), 1024);
    assert.ok(m.message.endsWith('Short ID: API-1A'));
    assert.match(m.message, /Culprit: c+…\n/);
  });

  it('HTML mode truncation of an escaped culprit never leaves a broken entity', () => {
    const m = formatIssueNotification({ ...issue, culprit: '&'.repeat(2000) }, { html: true });
    assert.ok(codePointLength(m.message) <= 1024);
    assert.match(m.message, /<b>Culprit:<\/b> (&amp;)+…\n/);
  });

  it('never cuts a URL: over 512 code points it moves into the body; too long even for that, it is left out', () => {
    const long = `https://acme.sentry.io/issues/1/?q=${'x'.repeat(600)}`;
    const m = formatIssueNotification({ ...issue, permalink: long });
    assert.equal(m.url, undefined);
    assert.equal(m.url_title, undefined);
    assert.ok(m.message.endsWith(`\nLink: ${long}`));
    assert.ok(codePointLength(m.message) <= 1024);
    const huge = `https://acme.sentry.io/issues/1/?q=${'x'.repeat(1100)}`;
    const h = formatIssueNotification({ ...issue, permalink: huge });
    assert.equal(h.url, undefined);
    assert.ok(!h.message.includes('https://'));
    const exact = `https://a.io/${'x'.repeat(499)}`;
    assert.equal(codePointLength(exact), 512);
    assert.equal(formatIssueNotification({ ...issue, permalink: exact }).url, exact);
  });

  it('never produces an empty message or title', () => {
    const m = formatIssueNotification({});
    assert.equal(m.title, '(untitled issue)');
    assert.equal(m.message, 'Level: unknown');
    assert.equal(m.url, undefined);
    assert.equal(formatIssueNotification({ title: '  ', project: { name: 'Web' } }).title, '[Web] (untitled issue)');
  });
});

describe('fitToLimits', () => {
  it('drops url_title without url, replaces an empty body, reports what changed', () => {
    const { message, changed } = fitToLimits({ message: ' ', url_title: 'Open' });
    assert.deepEqual(message, { message: '(no details)' });
    assert.deepEqual(changed, ['message']);
  });

  it('escapes a URL moved into an HTML body', () => {
    const url = `https://x.io/?a=1&b=${'y'.repeat(600)}`;
    const { message } = fitToLimits({ message: 'm', url, html: true });
    assert.equal(message.message, `m\nhttps://x.io/?a=1&amp;b=${'y'.repeat(600)}`);
  });
});
