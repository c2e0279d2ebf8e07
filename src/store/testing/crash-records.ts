import type { InstallationRecord } from '../types.ts';

/** The installations the crash writer cycles through: sequence `seq` writes `CRASH_IDS[seq % 5]`. */
export const CRASH_IDS: readonly string[] = [0, 1, 2, 3, 4].map((j) => `00000000-0000-4000-8000-00000000000${j}`);

/**
 * The record written at sequence `seq`; its token and refresh token both encode `seq`, so a record
 * mixing two writes would show two different numbers.
 *
 * @example
 * crashRecord(7).token; // 'token-7-…'
 */
export function crashRecord(seq: number): InstallationRecord {
  const id = CRASH_IDS[seq % CRASH_IDS.length] as string;
  return {
    installationId: id, orgSlug: 'crash', token: `token-${seq}-`.padEnd(64, 't'), refreshToken: `refresh-${seq}-`.padEnd(64, 'r'),
    expiresAt: '2026-01-01T08:00:00.000Z', scopes: ['org:read'], status: 'active', verified: true,
    // A long field so each write spans more than one page and a torn write would be visible.
    regionUrl: `https://region.example/${'x'.repeat(6000)}/${seq}`,
    createdAt: '2026-01-01T00:00:00.000Z', updatedAt: String(seq),
  };
}

/** The sequence number a record was written at, checked for internal consistency. */
export function seqOf(record: InstallationRecord): number {
  const seq = Number(record.updatedAt);
  if (record.token !== crashRecord(seq).token || record.refreshToken !== crashRecord(seq).refreshToken
    || record.regionUrl !== crashRecord(seq).regionUrl) throw new Error(`record mixes writes (updatedAt ${seq})`);
  return seq;
}
