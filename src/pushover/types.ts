/**
 * A message for `POST /1/messages.json`, as the adapter accepts it. Field names are Pushover's
 * parameter names so a message can be inspected against the emulator's record one to one.
 *
 * @example
 * const m: PushoverMessage = { title: '[api] TypeError', message: 'Level: error', priority: 0, tags: 'dedupe-abc' };
 */
export interface PushoverMessage {
  /** Body, at most 1024 code points; never empty (the client substitutes `(no details)`). */
  message: string;
  /** At most 250 code points; Pushover shows the app name when absent. */
  title?: string;
  /** Supplementary URL, at most 512 code points; never truncated. */
  url?: string;
  /** At most 100 code points; only sent with `url`. */
  url_title?: string;
  /** −2..2. When absent and `level` is given, the client maps the level through its `priorities`. */
  priority?: number;
  /** Sentry level (fatal/error/warning/info/debug) used to choose a priority; not sent. */
  level?: string;
  html?: boolean;
  monospace?: boolean;
  /** Overrides the client's default sound; '' means the user's default. */
  sound?: string;
  /** Overrides the client's default device (comma-separated names). */
  device?: string;
  /** Unix seconds; floored to an integer. */
  timestamp?: number;
  /** Seconds; positive; not sent with priority 2 (Pushover ignores it there). */
  ttl?: number;
  /** Emergency only: seconds between repeats (≥ 30). Defaults to the client's `emergency.retry`. */
  retry?: number;
  /** Emergency only: seconds to keep repeating (1..10800). Defaults to the client's `emergency.expire`. */
  expire?: number;
  /** Emergency only: http(s) URL Pushover calls on acknowledgement. */
  callback?: string;
  /** Comma-separated tags (the worker's dedupe key goes here; used by cancel_by_tag). */
  tags?: string;
}

/** Priority per Sentry level. */
export interface LevelPriorities {
  fatal: number;
  error: number;
  warning: number;
  info: number;
  debug: number;
}

/** Defaults: fatal is high (bypasses quiet hours), error and warning normal, info/debug quiet. */
export const DEFAULT_LEVEL_PRIORITIES: Readonly<LevelPriorities> = Object.freeze({
  fatal: 1,
  error: 0,
  warning: 0,
  info: -1,
  debug: -1,
});

/**
 * The priority for a Sentry level: a known level through `priorities` (missing entries from the
 * defaults), anything else normal (0).
 *
 * @example
 * priorityForLevel('fatal', { fatal: 2 }); // 2
 */
export function priorityForLevel(level: string | undefined, priorities: Partial<LevelPriorities> = {}): number {
  const key = (level ?? '').toLowerCase() as keyof LevelPriorities;
  if (!(key in DEFAULT_LEVEL_PRIORITIES)) return 0;
  return priorities[key] ?? DEFAULT_LEVEL_PRIORITIES[key];
}
