/**
 * The emulator's avatar and publish-request endpoints, as pure handlers the router calls:
 *
 *   PUT  /api/0/sentry-apps/{slug}/avatar/            → handleAvatarUpload(app, jsonBody)
 *   POST /api/0/sentry-apps/{slug}/publish-request/   → handlePublishRequest(app, jsonBody)
 *
 * They mirror Sentry's server (SentryAppAvatarParser + AvatarField + is_black_alpha_only, and
 * SentryAppPublishRequestEndpoint), deliberately implemented apart from src/images so the agreement case
 * compares two implementations. PNG reading here follows Python PIL: the mode comes from the IHDR colour
 * type (only type 6 is "RGBA"), 16-bit samples are read by their high byte, and R=G=B=0 is required at any
 * alpha.
 *
 * UNCONFIRMED behaviour, made configurable (AvatarOptions):
 * - `strictDecode` (default true): PIL opens lazily, so real Sentry may store a logo whose pixel data is
 *   truncated or corrupt; the emulator decodes every upload fully and answers 400 "Invalid image format.".
 * - Data PIL cannot identify at all (damaged signature, not an image) is answered 400 "Invalid image format."
 *   here; Sentry's code does not catch PIL's UnidentifiedImageError (likely a 500 there).
 *
 * Decoding is bounded by the preflight's own limits (src/images/check.ts; shared, not copied): nothing
 * above MAX_DECODE_PIXELS is decoded, and IDAT that inflates more than MAX_EXCESS_INFLATED_BYTES past what
 * the header needs is refused as "Invalid image format." (an undecodable image) instead of being inflated
 * in full — a 1 MiB body of deflated zeros would otherwise inflate to about 1 GB.
 */
import zlib from 'node:zlib';
import { inflateImageData, type InflateFailure } from '../../src/images/check.ts';
import type { EmulatorApp } from './types.ts';

/** What the emulator remembers per app about avatars and publication. */
export interface AvatarState {
  /** The uploaded colour logo (absent = default avatar). */
  logo?: { bytes: number; uuid: string };
  /** The uploaded simple icon (absent = default avatar). */
  icon?: { bytes: number; uuid: string };
  /** Status after a successful publish request (`publish_request_inprogress`). */
  publishRequestInProgress: boolean;
  /** The questionnaire of the last accepted publish request. */
  questionnaire?: Array<{ question: string; answer: string }>;
}

/** The app fields the handlers read; the avatar state is kept on the app object itself (`avatar`). */
export type AvatarApp = Pick<EmulatorApp, 'slug' | 'published'> & {
  /** Internal integrations cannot be published. */
  isInternal?: boolean;
  /** UI-component schema; issue-link / stacktrace-link make an icon mandatory. */
  schema?: unknown;
  avatar?: AvatarState;
};

/** Options for behaviour Sentry does not pin down. */
export interface AvatarOptions {
  /** `SENTRY_MAX_AVATAR_SIZE` (default 5,000,000 decoded bytes). */
  maxBytes?: number;
  /** Fully decode uploads and reject broken pixel data (default true; see the module comment). */
  strictDecode?: boolean;
}

/** A handler's answer: status and JSON body (null = no body, e.g. the publish request's 201). */
export interface HandlerResponse {
  status: number;
  body: unknown;
}

/** The app's avatar state, created on first use. @example avatarState(app).logo !== undefined */
export function avatarState(app: AvatarApp): AvatarState {
  app.avatar ??= { publishRequestInProgress: false };
  return app.avatar;
}

const INVALID_FORMAT = 'Invalid image format.';
const INVALID_DIMENSIONS = 'Invalid image dimensions.';
const ICON_MESSAGE = 'The icon must only use black and should contain an alpha channel.';

interface Ihdr {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
}

/** The image as PIL's Image.open would see it: format, size, mode; or why it cannot be opened. */
type Opened = { format: string; ihdr?: Ihdr; idat?: Buffer; error?: string };

function openImage(data: Buffer): Opened {
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return { format: 'JPEG' };
  const head = data.subarray(0, 12).toString('latin1');
  if (/^GIF8[79]a/.test(head)) return { format: 'GIF' };
  if (head.startsWith('RIFF') && head.endsWith('WEBP')) return { format: 'WEBP' };
  if (head.startsWith('BM')) return { format: 'BMP' };
  if (data.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') return { format: 'unidentified', error: 'cannot identify image file' };
  let pos = 8;
  let ihdr: Ihdr | undefined;
  const idat: Buffer[] = [];
  while (true) {
    if (pos + 12 > data.length) return { format: 'PNG', ihdr, error: 'truncated' };
    const len = data.readUInt32BE(pos);
    const type = data.subarray(pos + 4, pos + 8).toString('latin1');
    if (pos + 12 + len > data.length) return { format: 'PNG', ihdr, error: 'truncated' };
    const body = data.subarray(pos + 8, pos + 8 + len);
    if (zlib.crc32(data.subarray(pos + 4, pos + 8 + len)) >>> 0 !== data.readUInt32BE(pos + 8 + len)) return { format: 'PNG', ihdr, error: `broken PNG file (bad ${type} checksum)` };
    if (!ihdr) {
      if (type !== 'IHDR' || len !== 13) return { format: 'unidentified', error: 'not a PNG file' };
      ihdr = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8]!, colorType: body[9]!, interlaced: body[12] === 1 };
      const legal: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
      if (!legal[ihdr.colorType]?.includes(ihdr.depth) || body[12]! > 1) return { format: 'unidentified', error: 'unknown PNG mode' };
    }
    if (type === 'IDAT') idat.push(body);
    pos += 12 + len;
    if (type === 'IEND') break;
  }
  return { format: 'PNG', ihdr, idat: Buffer.concat(idat) };
}

const INFLATE_FAILURES: Record<InflateFailure, string> = {
  'too-many-pixels': 'image is too large to decode',
  bomb: 'decompression bomb',
  corrupt: 'image data is corrupt',
};

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const PASSES = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/** Sub-images (one, or Adam7's seven) as [width, height]. */
function passSizes(h: Ihdr): Array<[number, number]> {
  if (!h.interlaced) return [[h.width, h.height]];
  return PASSES.map(([x0, y0, dx, dy]) => [Math.ceil((h.width - x0) / dx), Math.ceil((h.height - y0) / dy)] as [number, number])
    .filter(([w, hh]) => w > 0 && hh > 0);
}

/**
 * Inflates and unfilters; calls `row` with each reconstructed scanline. Returns an error string when the
 * data is not a complete, well-filtered image.
 */
function scanlines(h: Ihdr, idat: Buffer, row: (line: Uint8Array) => void): string | undefined {
  const inflated = inflateImageData(idat, { width: h.width, height: h.height, bitDepth: h.depth, colorType: h.colorType, interlace: h.interlaced });
  if ('failure' in inflated) return INFLATE_FAILURES[inflated.failure];
  const raw = inflated.inflated;
  const bitsPerPixel = CHANNELS[h.colorType]! * h.depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  let pos = 0;
  for (const [w, hh] of passSizes(h)) {
    const stride = Math.ceil((w * bitsPerPixel) / 8);
    let prev = new Uint8Array(stride);
    for (let y = 0; y < hh; y++) {
      if (pos + 1 + stride > raw.length) return 'image file is truncated';
      const filter = raw[pos]!;
      const line = Uint8Array.from(raw.subarray(pos + 1, pos + 1 + stride));
      pos += 1 + stride;
      for (let i = 0; i < stride; i++) {
        const left = i >= bpp ? line[i - bpp]! : 0;
        const up = prev[i]!;
        const upLeft = i >= bpp ? prev[i - bpp]! : 0;
        let add: number;
        if (filter === 0) add = 0;
        else if (filter === 1) add = left;
        else if (filter === 2) add = up;
        else if (filter === 3) add = (left + up) >> 1;
        else if (filter === 4) {
          const p = left + up - upLeft;
          const pa = Math.abs(p - left);
          const pb = Math.abs(p - up);
          const pc = Math.abs(p - upLeft);
          add = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
        } else return `unrecognized filter type ${filter}`;
        line[i] = (line[i]! + add) & 0xff;
      }
      row(line);
      prev = line;
    }
  }
  return undefined;
}

/** PIL's `is_black_alpha_only`: mode RGBA and every pixel's R, G, B (8-bit view) equal to 0. */
function blackAlphaOnly(h: Ihdr, idat: Buffer): boolean | string {
  if (h.colorType !== 6) return false;
  const step = h.depth === 16 ? 8 : 4;
  let black = true;
  const error = scanlines(h, idat, (line) => {
    // 16-bit: the high byte of each big-endian sample is what PIL's 8-bit RGBA holds.
    const sample = h.depth === 16 ? 2 : 1;
    for (let i = 0; i < line.length && black; i += step) {
      if (line[i] !== 0 || line[i + sample] !== 0 || line[i + 2 * sample] !== 0) black = false;
    }
  });
  return error ?? black;
}

const fieldError = (field: string, message: string): HandlerResponse => ({ status: 400, body: { [field]: [message] } });

let uuidCounter = 0;
function nextUuid(): string {
  uuidCounter++;
  return `00000000-0000-4000-8000-${uuidCounter.toString(16).padStart(12, '0')}`;
}

/**
 * `PUT /api/0/sentry-apps/{slug}/avatar/` with `{"avatar_type":"upload"|"default","avatar_photo":"<base64>","color":bool}`
 * (`color: true` = logo, `false` = icon). 200 with the app's avatars; 413 `{"detail":"Image too large"}`;
 * 400 with Sentry's field errors.
 * @example handleAvatarUpload(app, { avatar_type: 'upload', avatar_photo: png.toString('base64'), color: false })
 */
export function handleAvatarUpload(app: AvatarApp, body: unknown, options: AvatarOptions = {}): HandlerResponse {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { status: 400, body: { non_field_errors: [`Invalid data. Expected a dictionary, but got ${Array.isArray(body) ? 'list' : typeof body === 'string' ? 'str' : 'NoneType'}.`] } };
  }
  const input = body as Record<string, unknown>;
  const errors: Record<string, string[]> = {};
  let photo: Buffer | undefined;
  let opened: Opened | undefined;
  // Field order as in the parser: avatar_photo, avatar_type, color. ImageTooLarge (413) is raised at once.
  if (input.avatar_photo !== undefined && input.avatar_photo !== null && input.avatar_photo !== '') {
    photo = Buffer.from(String(input.avatar_photo), 'base64');
    if (photo.length > (options.maxBytes ?? 5_000_000)) return { status: 413, body: { detail: 'Image too large' } };
    opened = openImage(photo);
    if (opened.format !== 'PNG' || !opened.ihdr || (opened.error && (options.strictDecode ?? true))) errors.avatar_photo = [INVALID_FORMAT];
    else if (opened.ihdr.width !== opened.ihdr.height || opened.ihdr.width < 256 || opened.ihdr.width > 1024) errors.avatar_photo = [INVALID_DIMENSIONS];
    else if ((options.strictDecode ?? true) && opened.idat && scanlines(opened.ihdr, opened.idat, () => {}) !== undefined) errors.avatar_photo = [INVALID_FORMAT];
  }
  if (input.avatar_type === undefined) errors.avatar_type = ['This field is required.'];
  else if (input.avatar_type !== 'upload' && input.avatar_type !== 'default') errors.avatar_type = [`"${String(input.avatar_type)}" is not a valid choice.`];
  if (input.color === undefined) errors.color = ['This field is required.'];
  else if (typeof input.color !== 'boolean') errors.color = ['Must be a valid boolean.'];
  if (Object.keys(errors).length > 0) return { status: 400, body: errors };

  const upload = input.avatar_type === 'upload';
  if (upload && !photo) return fieldError('avatar_photo', 'A logo is required.');
  if (upload && input.color === false) {
    const verdict = opened?.ihdr && opened.idat ? blackAlphaOnly(opened.ihdr, opened.idat) : false;
    if (verdict !== true) return fieldError('avatar_photo', ICON_MESSAGE);
  }
  const state = avatarState(app);
  const slot = input.color ? 'logo' : 'icon';
  if (upload && photo) state[slot] = { bytes: photo.length, uuid: nextUuid() };
  else delete state[slot];
  const avatars = (['logo', 'icon'] as const).map((kind) => ({
    avatarType: state[kind] ? 'upload' : 'default',
    avatarUuid: state[kind]?.uuid ?? null,
    color: kind === 'logo',
    photoType: kind,
  }));
  return { status: 200, body: { slug: app.slug, avatars } };
}

/**
 * `POST /api/0/sentry-apps/{slug}/publish-request/` with `{"questionnaire":[{"question","answer"}]}`.
 * 201 (no body) and the app becomes "publish request in progress"; 400 `{"detail": …}` in Sentry's order.
 * Like Sentry, the status changes before the questionnaire is validated.
 * @example handlePublishRequest(app, { questionnaire: [{ question: 'What does it do?', answer: 'Pages on-call.' }] })
 */
export function handlePublishRequest(app: AvatarApp, body: unknown): HandlerResponse {
  const state = avatarState(app);
  const detail = (message: string): HandlerResponse => ({ status: 400, body: { detail: message } });
  if (app.published) return detail('Cannot publish already published integration.');
  if (app.isInternal) return detail('Cannot publish internal integration.');
  if (state.publishRequestInProgress) return detail('Publish request in progress.');
  if (!state.logo) return detail('Must upload a logo for the integration.');
  const schema = app.schema as { elements?: unknown } | undefined;
  const elements = Array.isArray(schema?.elements) ? (schema.elements as Array<{ type?: unknown }>) : [];
  if (elements.some((e) => e?.type === 'issue-link' || e?.type === 'stacktrace-link') && !state.icon) {
    return detail('Must upload an icon for issue and stack trace linking integrations.');
  }
  state.publishRequestInProgress = true;
  const questionnaire = (body as { questionnaire?: unknown } | null)?.questionnaire;
  if (!Array.isArray(questionnaire)) {
    return { status: 400, body: { questionnaire: [questionnaire === undefined ? 'This field is required.' : 'Expected a list of items but got type "' + typeof questionnaire + '".'] } };
  }
  const itemErrors = questionnaire.map((item) => {
    const e: Record<string, string[]> = {};
    for (const key of ['question', 'answer']) {
      const v = (item as Record<string, unknown> | null)?.[key];
      if (v === undefined) e[key] = ['This field is required.'];
      else if (v === null) e[key] = ['This field may not be null.'];
      else if (v === '') e[key] = ['This field may not be blank.'];
    }
    return e;
  });
  if (itemErrors.some((e) => Object.keys(e).length > 0)) return { status: 400, body: { questionnaire: itemErrors } };
  state.questionnaire = questionnaire.map((q) => ({ question: String(q.question), answer: String(q.answer) }));
  return { status: 201, body: null };
}
