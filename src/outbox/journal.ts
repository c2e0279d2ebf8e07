/**
 * The outbox journal's framing: one record per line, `<length> <crc32> <json>\n`.
 *
 * `length` is the byte length of `json` in decimal, `crc32` is the IEEE CRC-32 of those bytes as 8 lowercase
 * hex digits. The length finds a record's end without trusting the newline; the checksum catches a record
 * whose bytes were only partly written (a crash mid-`write`) or garbled. JSON.stringify never emits a raw
 * newline, so a line is always exactly one record.
 */

import { crc32 } from '../crc32.ts';

const SPACE = 0x20;
const NEWLINE = 0x0a;

/**
 * Frames one record as journal bytes: the JSON is serialised and encoded once, straight into the line.
 *
 * @example
 * const line = encodeRecordBytes({ t: 'ack', id: 'a1' }); // <Buffer 32 30 20 …> ('20 1c2f5d4a {"t":"ack",...}\n')
 */
export function encodeRecordBytes(record: unknown): Buffer {
  const json = JSON.stringify(record);
  const length = Buffer.byteLength(json, 'utf8');
  const prefix = `${length} `;
  const jsonStart = prefix.length + 9;
  const line = Buffer.allocUnsafe(jsonStart + length + 1);
  line.write(prefix, 0, 'latin1');
  line.write(json, jsonStart, 'utf8');
  const crc = crc32(line, jsonStart, jsonStart + length).toString(16).padStart(8, '0');
  line.write(`${crc} `, prefix.length, 'latin1');
  line[line.length - 1] = NEWLINE;
  return line;
}

/**
 * Frames one record as a journal line.
 *
 * @example
 * encodeRecord({ t: 'ack', id: 'a1' }) // '12 1c2f5d4a {"t":"ack",...}\n' (checksum illustrative)
 */
export function encodeRecord(record: unknown): string {
  return encodeRecordBytes(record).toString('utf8');
}

/** What `parseJournal` found. */
export interface ParsedJournal {
  /** Every intact record, in file order, up to the first damaged one. */
  records: unknown[];
  /** Byte length of the intact prefix: the file should be truncated to this. */
  validBytes: number;
  /** Bytes after the intact prefix (0 for a clean file). */
  tailBytes: number;
  /**
   * The tail is nothing but zero bytes: preallocated space the writer has not reached yet, which is the
   * end of the journal, not damage (no record contains a zero byte: JSON.stringify escapes U+0000).
   */
  zeroTail: boolean;
  /** The tail without its trailing zero bytes: what a damaged or torn write left (0 for a zero tail). */
  damagedBytes: number;
  /**
   * True when an intact record appears after the damaged one. A crash mid-append only ever damages the
   * end, so this means corruption, not a torn write: the caller should keep a copy of the tail.
   */
  intactAfterDamage: boolean;
}


/** Reads one record at `pos`; returns its value and end offset, or undefined when it is damaged. */
function readRecord(buf: Uint8Array, pos: number): { value: unknown; end: number } | undefined {
  let i = pos;
  let length = 0;
  while (i < buf.length && buf[i]! >= 0x30 && buf[i]! <= 0x39 && i - pos < 10) length = length * 10 + (buf[i++]! - 0x30);
  if (i === pos || buf[i] !== SPACE) return undefined;
  const crcStart = i + 1;
  const jsonStart = crcStart + 9;
  const end = jsonStart + length + 1;
  if (end > buf.length || buf[jsonStart - 1] !== SPACE || buf[end - 1] !== NEWLINE) return undefined;
  const crcText = Buffer.from(buf.buffer, buf.byteOffset + crcStart, 8).toString('latin1');
  if (!/^[0-9a-f]{8}$/.test(crcText) || parseInt(crcText, 16) !== crc32(buf, jsonStart, jsonStart + length)) return undefined;
  try {
    return { value: JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + jsonStart, length).toString('utf8')), end };
  } catch {
    return undefined;
  }
}

/**
 * Splits a journal into intact records and a damaged tail (if any).
 *
 * @example
 * const { records, validBytes } = parseJournal(await readFile(path));
 */
export function parseJournal(buf: Uint8Array): ParsedJournal {
  const records: unknown[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const rec = readRecord(buf, pos);
    if (!rec) break;
    records.push(rec.value);
    pos = rec.end;
  }
  let contentEnd = buf.length;
  while (contentEnd > pos && buf[contentEnd - 1] === 0) contentEnd--;
  const zeroTail = pos < buf.length && contentEnd === pos;
  let intactAfterDamage = false;
  // Look for any intact record after the damage: start of a line that parses.
  for (let i = zeroTail ? -1 : buf.indexOf(NEWLINE, pos); i !== -1 && i + 1 < buf.length; i = buf.indexOf(NEWLINE, i + 1)) {
    if (readRecord(buf, i + 1)) {
      intactAfterDamage = true;
      break;
    }
  }
  return { records, validBytes: pos, tailBytes: buf.length - pos, zeroTail, damagedBytes: contentEnd - pos, intactAfterDamage };
}
