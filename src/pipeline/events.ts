/**
 * Which webhook deliveries become notifications (`NOTIFY_EVENTS`).
 *
 * Syntax: comma-separated `resource.action` entries; `*` as the action matches every action of the
 * resource (`metric_alert.*`). Default `issue.created`. Only resources the pipeline knows how to
 * turn into a notification are accepted, so a typo fails at start instead of silently notifying
 * nothing.
 *
 * @example
 * const events = parseNotifyEvents('issue.created,metric_alert.*');
 * events.matches('metric_alert', 'critical'); // true
 * events.matches('issue', 'resolved');        // false
 */
export interface NotifyEvents {
  /** True when a delivery with this resource and action should be notified. */
  matches(resource: string, action: string): boolean;
  /** The normalised entries, e.g. `['issue.created', 'metric_alert.*']`. */
  readonly entries: readonly string[];
}

/** The resources the pipeline can notify, with the actions Sentry sends for each. */
export const NOTIFIABLE: Readonly<Record<string, readonly string[]>> = {
  // `archived` is the legacy name of `ignored` (sent to apps subscribed to issue.archived).
  issue: ['created', 'resolved', 'assigned', 'ignored', 'archived', 'unresolved'],
  error: ['created'],
  event_alert: ['triggered'],
  // `open` exists in Sentry's code besides the documented three.
  metric_alert: ['critical', 'warning', 'resolved', 'open'],
};

/** The default when `NOTIFY_EVENTS` is unset or blank. */
export const DEFAULT_NOTIFY_EVENTS = 'issue.created';

/** Thrown for an unusable `NOTIFY_EVENTS` value; the message names the bad entry. */
export class NotifyEventsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotifyEventsError';
  }
}

/**
 * Parses a `NOTIFY_EVENTS` value (see {@link NotifyEvents} for the syntax).
 * `issue.ignored` and `issue.archived` imply each other: Sentry uses either name for the same event.
 */
export function parseNotifyEvents(value: string | undefined = DEFAULT_NOTIFY_EVENTS): NotifyEvents {
  const text = value.trim() === '' ? DEFAULT_NOTIFY_EVENTS : value;
  const allowed = new Set<string>();
  const entries: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const dot = entry.indexOf('.');
    const resource = dot < 0 ? entry : entry.slice(0, dot);
    const action = dot < 0 ? '' : entry.slice(dot + 1);
    const actions = NOTIFIABLE[resource];
    if (!actions) {
      throw new NotifyEventsError(
        `NOTIFY_EVENTS: unknown resource in "${entry}" (known: ${Object.keys(NOTIFIABLE).join(', ')})`,
      );
    }
    if (action === '*') {
      for (const a of actions) allowed.add(`${resource}.${a}`);
    } else if (actions.includes(action)) {
      allowed.add(`${resource}.${action}`);
      if (resource === 'issue' && (action === 'ignored' || action === 'archived')) {
        allowed.add('issue.ignored');
        allowed.add('issue.archived');
      }
    } else {
      throw new NotifyEventsError(
        `NOTIFY_EVENTS: unknown action in "${entry}" (for ${resource}: ${actions.join(', ')} or *)`,
      );
    }
    if (!entries.includes(entry)) entries.push(entry);
  }
  return {
    entries,
    matches: (resource, action) => allowed.has(`${resource}.${action}`),
  };
}
