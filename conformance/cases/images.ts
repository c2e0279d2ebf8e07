/**
 * Images (logo and icon). These cases grade the kit itself, not the implementation under test:
 * our checker (src/images/check.ts) must give every fixture in fixtures/images/ the verdict its
 * manifest records, and the Sentry emulator's avatar endpoint must answer what Sentry's server does
 * — so a file the checker passes is one Sentry accepts.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { checkImage } from '../../src/images/check.ts';
import { DOCS, defineCases } from './support.ts';
import type { CaseContext } from '../harness.ts';

/** What fixtures/images/index.json records for one file used as one kind. */
interface Expectation { ok: boolean; errors: string[]; server: number }
interface Manifest { files: Array<{ file: string; logo: Expectation; icon: Expectation }> }
type Kind = 'logo' | 'icon';

const DIR = new URL('../../fixtures/images/', import.meta.url);
const SEC8 = 'sentry-platform.md §8';

/**
 * Runs `check` on every fixture as a logo and as an icon, in manifest order; returns the mismatch
 * lines it reported (undefined: as expected).
 */
async function mismatches(check: (bytes: Buffer, kind: Kind, expected: Expectation) => Promise<string | undefined> | string | undefined): Promise<string[]> {
  const manifest = JSON.parse(await readFile(fileURLToPath(new URL('index.json', DIR)), 'utf8')) as Manifest;
  const wrong: string[] = [];
  for (const f of manifest.files) {
    const bytes = await readFile(fileURLToPath(new URL(f.file, DIR)));
    for (const kind of ['logo', 'icon'] as const) {
      const line = await check(bytes, kind, f[kind]);
      if (line) wrong.push(`${f.file} as ${kind}: ${line}`);
    }
  }
  return wrong;
}

async function upload(ctx: CaseContext, bytes: Buffer, color: boolean): Promise<number> {
  const res = await fetch(`${ctx.sentry.url}/api/0/sentry-apps/${ctx.sentry.app.slug}/avatar/`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ avatar_type: 'upload', avatar_photo: bytes.toString('base64'), color }),
  });
  await res.arrayBuffer();
  return res.status;
}

export default defineCases([
  {
    id: 'IMG-001', area: 'images', level: 'MUST', standalone: true,
    title: 'the image checker gives every fixture its recorded verdict (logo and icon)',
    clause: { section: `${SEC8} (square 256–1024 px PNG; icon RGBA, every pixel RGB = 0)`, url: DOCS.avatar },
    requirement: 'Logo and icon: 256×256 to 1024×1024 px PNG; the icon in RGBA where all pixels are black or transparent.',
    async run(ctx) {
      const wrong = await mismatches((bytes, kind, expected) => {
        const report = checkImage(bytes, kind);
        const got = report.errors.map((e) => e.code).sort().join(',');
        const want = [...expected.errors].sort().join(',');
        return report.ok !== expected.ok || got !== want ? `got ${report.ok ? 'ok' : got}, want ${expected.ok ? 'ok' : want}` : undefined;
      });
      if (wrong.length) ctx.fail('checker verdicts differ from the manifest', { actual: wrong.join('; ') });
    },
  },
  {
    id: 'IMG-002', area: 'images', level: 'MUST', standalone: true,
    title: 'the emulator\'s avatar upload answers each fixture as Sentry\'s server does',
    clause: { section: `${SEC8} (server checks and errors)`, url: DOCS.avatar },
    requirement: 'PUT …/avatar/ rejects what Sentry rejects (non-square, out of range, not PNG, icon not black-only RGBA) and accepts the rest.',
    async run(ctx) {
      const wrong = await mismatches(async (bytes, kind, expected) => {
        const status = await upload(ctx, bytes, kind === 'logo');
        return status !== expected.server ? `${status}, want ${expected.server}` : undefined;
      });
      if (wrong.length) ctx.fail('avatar endpoint answers differ from the manifest', { actual: wrong.join('; ') });
    },
  },
  {
    id: 'IMG-003', area: 'images', level: 'MUST', standalone: true,
    title: 'whatever the checker passes, the avatar endpoint accepts',
    clause: { section: SEC8, url: DOCS.avatar },
    requirement: 'A preflight that passes a file Sentry would reject is worse than none: checker ok ⇒ upload 200.',
    async run(ctx) {
      const wrong = await mismatches(async (bytes, kind) => {
        if (!checkImage(bytes, kind).ok) return undefined;
        const status = await upload(ctx, bytes, kind === 'logo');
        return status !== 200 ? `checker ok, upload ${status}` : undefined;
      });
      if (wrong.length) ctx.fail('the checker passes files Sentry rejects', { actual: wrong.join('; ') });
    },
  },
]);
