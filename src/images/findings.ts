/**
 * Findings of the image checks: stable codes, and which of them Sentry's server enforces on upload
 * (the rest are review-time rules from Sentry's docs). The emulator agreement case compares only the
 * server-enforced verdict.
 */

/** One finding: a stable machine code and a sentence for people. */
export interface ImageFinding {
  code: string;
  message: string;
}

/** Which image a file is meant to be. */
export type ImageKind = 'logo' | 'icon';

/** Where each code comes from; `server` = rejected by Sentry's avatar upload endpoint. */
export const IMAGE_CODES: Readonly<Record<string, { source: 'server' | 'review' | 'advice'; summary: string }>> = {
  'not-png': { source: 'server', summary: 'not a PNG by its signature (Sentry Apps accept PNG only)' },
  'png-bad-signature': { source: 'server', summary: 'damaged PNG signature' },
  'png-truncated': { source: 'server', summary: 'file ends early' },
  'png-bad-crc': { source: 'server', summary: 'a chunk CRC does not match' },
  'png-bad-header': { source: 'server', summary: 'invalid IHDR' },
  'png-corrupt': { source: 'server', summary: 'broken chunk structure' },
  'png-decode-failed': { source: 'server', summary: 'image data cannot be decoded' },
  'png-trailing-data': { source: 'advice', summary: 'bytes after IEND (decoders ignore them)' },
  'file-too-large': { source: 'server', summary: 'more than 5,000,000 bytes (413 Image too large)' },
  'not-square': { source: 'server', summary: 'width != height' },
  'dimensions-too-small': { source: 'server', summary: 'smaller than 256 px' },
  'dimensions-too-large': { source: 'server', summary: 'larger than 1024 px' },
  'logo-opaque-background': { source: 'review', summary: 'opaque uniform border: background should be transparent' },
  'logo-background-uncertain': { source: 'review', summary: 'transparency heuristic cannot decide' },
  'icon-not-rgba': { source: 'server', summary: 'icon not stored as RGBA (colour type 6)' },
  'icon-not-black': { source: 'server', summary: 'icon pixels with non-zero RGB' },
  'icon-transparent-not-black': { source: 'server', summary: 'fully transparent icon pixels with non-zero RGB' },
};

/**
 * True when none of the errors is one that Sentry's upload endpoint enforces, i.e. the server would accept
 * the upload (review-time rules such as the logo background are ignored).
 * @example serverWouldAccept(checkImage(bytes, 'logo').errors)
 */
export function serverWouldAccept(errors: readonly ImageFinding[]): boolean {
  return !errors.some((e) => IMAGE_CODES[e.code]?.source === 'server');
}
