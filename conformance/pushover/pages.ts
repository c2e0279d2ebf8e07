/** The non-JSON bodies Pushover's front end answers with (pushover-api.md §4.3, pitfall 1). */
import { STATUS_CODES } from 'node:http';

/** Built-in sounds (pushover-api.md §6), key → display name. */
export const BUILTIN_SOUNDS: Readonly<Record<string, string>> = Object.freeze({
  pushover: 'Pushover (default)', bike: 'Bike', bugle: 'Bugle', cashregister: 'Cash Register',
  classical: 'Classical', cosmic: 'Cosmic', falling: 'Falling', gamelan: 'Gamelan', incoming: 'Incoming',
  intermission: 'Intermission', magic: 'Magic', mechanical: 'Mechanical', pianobar: 'Piano Bar',
  siren: 'Siren', spacealarm: 'Space Alarm', tugboat: 'Tug Boat', alien: 'Alien Alarm (long)',
  climb: 'Climb (long)', persistent: 'Persistent (long)', echo: 'Pushover Echo (long)',
  updown: 'Up Down (long)', vibrate: 'Vibrate Only', none: 'None (silent)',
});

/** The HTML page for an unknown path or a wrong method (GET /1/messages.json). */
export const NOT_FOUND_HTML =
  '<!DOCTYPE html>\n<html><head><title>Pushover: Resource Not Found</title></head>\n' +
  '<body><h1>Resource Not Found (or Incorrect Method)</h1></body></html>\n';

/**
 * An nginx-style error page, as seen for the concurrency 429 and during outages (5xx).
 *
 * @example
 * nginxErrorPage(503); // '<html>…<title>503 Service Unavailable</title>…'
 */
export function nginxErrorPage(status: number): string {
  const line = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${line}</title></head>\r\n<body>\r\n<center><h1>${line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}
