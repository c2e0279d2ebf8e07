import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNotifyEvents, NotifyEventsError } from './events.ts';
import { asJob, dedupeKey, jobFromWebhook, orgSlugFromUrl } from './job.ts';

const INSTALL = 'a8e5d37a-696c-4c54-adb5-b3f28d64c7de';

function issueCreated(overrides: Record<string, unknown> = {}) {
  return {
    action: 'created',
    installation: { uuid: INSTALL },
    data: {
      issue: {
        url: 'https://sentry.io/api/0/organizations/test-org/issues/1170820242/',
        web_url: 'https://test-org.sentry.io/issues/1170820242/',
        project_url: 'https://test-org.sentry.io/issues/?project=1',
        count: '1', culprit: '?(runner)', firstSeen: '2019-08-19T20:58:37.391000Z', id: '1170820242',
        level: 'error', project: { id: '1', name: 'front-end', slug: 'front-end' },
        shortId: 'FRONT-END-9', title: 'ReferenceError: blooopy is not defined', userCount: 1,
        someFutureField: { nested: true },
        ...overrides,
      },
    },
    actor: { type: 'application', id: 'sentry', name: 'Sentry' },
  };
}

describe('parseNotifyEvents', () => {
  it('defaults to issue.created only', () => {
    for (const value of [undefined, '', '  ']) {
      const e = parseNotifyEvents(value);
      assert.equal(e.matches('issue', 'created'), true);
      assert.equal(e.matches('issue', 'resolved'), false);
      assert.equal(e.matches('error', 'created'), false);
    }
  });
  it('expands wildcards and treats ignored/archived as one', () => {
    const e = parseNotifyEvents(' metric_alert.* , issue.ignored,error.created');
    assert.equal(e.matches('metric_alert', 'critical'), true);
    assert.equal(e.matches('metric_alert', 'resolved'), true);
    assert.equal(e.matches('issue', 'archived'), true);
    assert.equal(e.matches('issue', 'created'), false);
    assert.equal(e.matches('error', 'created'), true);
    assert.deepEqual(e.entries, ['metric_alert.*', 'issue.ignored', 'error.created']);
  });
  it('rejects unknown resources and actions by name', () => {
    assert.throws(() => parseNotifyEvents('comment.created'), (err: Error) =>
      err instanceof NotifyEventsError && err.message.includes('comment.created'));
    assert.throws(() => parseNotifyEvents('issue.creatd'), /unknown action in "issue.creatd"/);
    assert.throws(() => parseNotifyEvents('issue'), /unknown action/);
  });
});

describe('dedupeKey', () => {
  it('joins content parts and never collides through separators', () => {
    const a = dedupeKey({ installationId: 'i', resource: 'issue', action: 'created', subjectId: '1:2' });
    const b = dedupeKey({ installationId: 'i', resource: 'issue', action: 'created', subjectId: '1', eventId: '2' });
    assert.notEqual(a, b);
    assert.equal(b, 'i:issue:created:1:2');
    assert.equal(a, 'i:issue:created:1%3A2');
  });
});

describe('jobFromWebhook', () => {
  it('maps issue.created to a job keyed on content, ignoring unknown fields', () => {
    const parsed = jobFromWebhook('issue', issueCreated(), 42);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.job, {
      v: 1,
      key: `${INSTALL}:issue:created:1170820242`,
      installationId: INSTALL,
      resource: 'issue',
      action: 'created',
      issueId: '1170820242',
      orgSlug: 'test-org',
      snapshot: {
        id: '1170820242', shortId: 'FRONT-END-9', title: 'ReferenceError: blooopy is not defined',
        level: 'error', culprit: '?(runner)', count: '1', firstSeen: '2019-08-19T20:58:37.391000Z',
        webUrl: 'https://test-org.sentry.io/issues/1170820242/', projectSlug: 'front-end', projectName: 'front-end',
      },
      receivedAt: 42,
    });
    // The same content re-sent (Sentry's retry) gives the same key; another action does not.
    const again = jobFromWebhook('issue', issueCreated(), 99);
    assert.ok(again.ok);
    assert.equal(again.job.key, parsed.job.key);
    const resolved = jobFromWebhook('issue', { ...issueCreated(), action: 'resolved' }, 1);
    assert.ok(resolved.ok);
    assert.notEqual(resolved.job.key, parsed.job.key);
    assert.deepEqual(asJob(JSON.parse(JSON.stringify(parsed.job))), parsed.job);
  });

  it('maps error.created and event_alert.triggered with the event id in the key', () => {
    const event = {
      event_id: 'ab12', issue_id: '77', title: 'Boom', level: 'fatal', culprit: 'main.py',
      web_url: 'https://o.sentry.io/issues/77/events/ab12/',
      issue_url: 'https://sentry.io/api/0/organizations/acme/issues/77/',
    };
    const err = jobFromWebhook('error', { action: 'created', installation: { uuid: INSTALL }, data: { error: event } }, 0);
    assert.ok(err.ok);
    assert.equal(err.job.key, `${INSTALL}:error:created:77:ab12`);
    assert.equal(err.job.orgSlug, 'acme');
    assert.equal(err.job.snapshot.title, 'Boom');
    const alert = jobFromWebhook('event_alert', {
      action: 'triggered', installation: { uuid: INSTALL }, data: { event, triggered_rule: 'Page me' },
    }, 0);
    assert.ok(alert.ok);
    assert.equal(alert.job.key, `${INSTALL}:event_alert:triggered:77:ab12`);
    assert.equal(alert.job.detail, 'Page me');
  });

  it('maps metric alerts without an issue id', () => {
    const parsed = jobFromWebhook('metric_alert', {
      action: 'critical', installation: { uuid: INSTALL },
      data: { metric_alert: { id: '9' }, description_title: 'CPU high', description_text: '95%', web_url: 'https://x/alerts/9/' },
    }, 0);
    assert.ok(parsed.ok);
    assert.equal(parsed.job.key, `${INSTALL}:metric_alert:critical:9`);
    assert.equal(parsed.job.issueId, undefined);
    assert.equal(parsed.job.snapshot.level, 'error');
    assert.equal(parsed.job.detail, '95%');
  });

  it('explains what is missing instead of throwing', () => {
    const cases: [string, unknown, RegExp][] = [
      ['issue', null, /not a JSON object/],
      ['issue', [], /not a JSON object/],
      ['issue', { installation: { uuid: INSTALL }, data: {} }, /missing action/],
      ['issue', { action: 'created', data: {} }, /installation/],
      ['issue', { action: 'created', installation: { uuid: INSTALL }, data: { issue: { title: 'x' } } }, /missing issue id/],
      ['comment', { action: 'created', installation: { uuid: INSTALL }, data: {} }, /not notifiable/],
    ];
    for (const [resource, body, reason] of cases) {
      const parsed = jobFromWebhook(resource, body, 0);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.reason, reason);
    }
    assert.equal(asJob({ v: 2 }), undefined);
  });

  it('finds the org slug in org-scoped URLs only', () => {
    assert.equal(orgSlugFromUrl('https://sentry.io/api/0/organizations/my%2Dorg/issues/1/'), 'my-org');
    assert.equal(orgSlugFromUrl('https://sentry.io/api/0/issues/1/'), undefined);
    assert.equal(orgSlugFromUrl(undefined), undefined);
  });
});
