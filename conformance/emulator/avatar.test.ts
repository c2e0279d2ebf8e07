import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { oversizedPng, pngWithIdat } from '../../scripts/gen-image-fixtures.ts';
import { checkImage } from '../../src/images/check.ts';
import { serverWouldAccept } from '../../src/images/findings.ts';
import { encodePng } from '../../src/images/encode.ts';
import { avatarState, handleAvatarUpload, handlePublishRequest, type AvatarApp } from './avatar.ts';

const DIR = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../fixtures/images');
type Side = { server: number };
const manifest = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { files: Array<{ file: string; logo: Side; icon: Side }> };
const newApp = (extra: Partial<AvatarApp> = {}): AvatarApp => ({ slug: 'notifier', published: false, ...extra });
const upload = (app: AvatarApp, bytes: Uint8Array, color: boolean) =>
  handleAvatarUpload(app, { avatar_type: 'upload', avatar_photo: Buffer.from(bytes).toString('base64'), color });

describe('agreement: checker (server rules) vs emulator avatar endpoint, every image fixture', () => {
  for (const entry of manifest.files) {
    for (const kind of ['logo', 'icon'] as const) {
      it(`${entry.file} as ${kind} → ${entry[kind].server}`, () => {
        const bytes = readFileSync(join(DIR, entry.file));
        const response = upload(newApp(), bytes, kind === 'logo');
        assert.equal(response.status, entry[kind].server, JSON.stringify(response.body));
        const checkerAccepts = serverWouldAccept(checkImage(bytes, kind).errors);
        assert.equal(response.status === 200, checkerAccepts, 'checker and emulator disagree');
      });
    }
  }

  it('over 5,000,000 bytes → 413 Image too large, and the checker agrees', () => {
    const big = oversizedPng();
    const response = upload(newApp(), big, false);
    assert.deepEqual(response, { status: 413, body: { detail: 'Image too large' } });
    assert.equal(serverWouldAccept(checkImage(big, 'icon').errors), false);
  });
});

describe('avatar upload: Sentry\'s wording and state', () => {
  const read = (f: string) => readFileSync(join(DIR, f));

  it('words 400s as Sentry does', () => {
    assert.deepEqual(upload(newApp(), read('jpeg-named.png'), true).body, { avatar_photo: ['Invalid image format.'] });
    assert.deepEqual(upload(newApp(), read('logo-not-square.png'), true).body, { avatar_photo: ['Invalid image dimensions.'] });
    assert.deepEqual(upload(newApp(), read('icon-rgb-black.png'), false).body, { avatar_photo: ['The icon must only use black and should contain an alpha channel.'] });
    assert.deepEqual(handleAvatarUpload(newApp(), { avatar_type: 'upload', color: true }), { status: 400, body: { avatar_photo: ['A logo is required.'] } });
    assert.deepEqual(handleAvatarUpload(newApp(), { avatar_type: 'cropped' }).body, { avatar_type: ['"cropped" is not a valid choice.'], color: ['This field is required.'] });
    assert.equal(handleAvatarUpload(newApp(), 'nope').status, 400);
  });

  it('16-bit icons are read by their high byte; 0x0100 in red is rejected', () => {
    const bad = encodePng({ width: 256, height: 256, colorType: 6, bitDepth: 16, sample: (x) => [x === 9 ? 0x0100 : 0x00ff, 0, 0, 65535] });
    assert.equal(upload(newApp(), bad, false).status, 400);
    assert.equal(upload(newApp(), read('icon-16bit.png'), false).status, 200);
  });

  it('strictDecode off: a truncated logo is stored, as PIL\'s lazy open would allow (UNCONFIRMED option)', () => {
    const app = newApp();
    const r = handleAvatarUpload(app, { avatar_type: 'upload', avatar_photo: read('truncated.png').toString('base64'), color: true }, { strictDecode: false });
    assert.equal(r.status, 200);
    assert.ok(avatarState(app).logo);
  });

  it('records uploads per app and "default" clears them', () => {
    const app = newApp();
    const r = upload(app, read('logo-good.png'), true);
    assert.equal(r.status, 200);
    assert.deepEqual((r.body as { avatars: Array<{ photoType: string; avatarType: string }> }).avatars.map((a) => `${a.photoType}:${a.avatarType}`), ['logo:upload', 'icon:default']);
    assert.equal(handleAvatarUpload(app, { avatar_type: 'default', color: true }).status, 200);
    assert.equal(avatarState(app).logo, undefined);
  });
});

describe('avatar upload: decompression bombs', () => {
  const needed = 256 * (1 + 256 * 4);

  it('IDAT inflating far past what the header needs is an undecodable image (400), not inflated in full', () => {
    // 64 MiB of zeros deflates to ~64 kB; unbounded, it inflated in full and the all-black icon was accepted.
    const bomb = pngWithIdat(256, 256, new Uint8Array(64 << 20));
    for (const color of [true, false]) {
      assert.deepEqual(upload(newApp(), bomb, color), { status: 400, body: { avatar_photo: ['Invalid image format.'] } });
    }
    const r = handleAvatarUpload(newApp(), { avatar_type: 'upload', avatar_photo: bomb.toString('base64'), color: false }, { strictDecode: false });
    assert.equal(r.status, 400);
  });

  it('a little excess after the image data is still tolerated, as decoders (and the checker) do', () => {
    const png = pngWithIdat(256, 256, new Uint8Array(needed + 1000));
    assert.equal(upload(newApp(), png, false).status, 200);
    assert.equal(serverWouldAccept(checkImage(png, 'icon').errors), true);
  });
});

describe('publish request', () => {
  const read = (f: string) => readFileSync(join(DIR, f));
  const questionnaire = { questionnaire: [{ question: 'What does your integration do?', answer: 'Sends Pushover notifications.' }] };
  const schema = { elements: [{ type: 'stacktrace-link', uri: '/open' }] };

  it('runs Sentry\'s checks in order and then accepts once', () => {
    const app = newApp({ schema });
    assert.deepEqual(handlePublishRequest(app, questionnaire), { status: 400, body: { detail: 'Must upload a logo for the integration.' } });
    upload(app, read('logo-good.png'), true);
    assert.deepEqual(handlePublishRequest(app, questionnaire).body, { detail: 'Must upload an icon for issue and stack trace linking integrations.' });
    upload(app, read('icon-good.png'), false);
    assert.deepEqual(handlePublishRequest(app, questionnaire), { status: 201, body: null });
    assert.deepEqual(handlePublishRequest(app, questionnaire).body, { detail: 'Publish request in progress.' });
  });

  it('no icon needed without link components; published and internal apps are refused', () => {
    const app = newApp();
    upload(app, read('logo-good.png'), true);
    assert.equal(handlePublishRequest(app, questionnaire).status, 201);
    assert.deepEqual(handlePublishRequest(newApp({ published: true }), questionnaire).body, { detail: 'Cannot publish already published integration.' });
    assert.deepEqual(handlePublishRequest(newApp({ isInternal: true }), questionnaire).body, { detail: 'Cannot publish internal integration.' });
  });

  it('validates the questionnaire (after the status change, as Sentry does)', () => {
    const app = newApp();
    upload(app, read('logo-good.png'), true);
    const r = handlePublishRequest(app, { questionnaire: [{ question: 'Q' }] });
    assert.deepEqual(r, { status: 400, body: { questionnaire: [{ answer: ['This field is required.'] }] } });
    assert.equal(avatarState(app).publishRequestInProgress, true);
  });
});
