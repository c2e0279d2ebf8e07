/**
 * Serialises a value exactly as Sentry's webhook sender does (Python `json.dumps(obj,
 * separators=(",", ":"), ensure_ascii=True)`): compact, keys in insertion order, every non-ASCII
 * character escaped as lowercase `\uXXXX` (astral characters as a surrogate pair), no trailing newline.
 * The bytes matter because the signature is computed over them.
 *
 * Numbers: integers and finite floats print as JavaScript prints them; Python would print a float
 * with an integral value as `1.0`, so use {@link PyFloat} for such values where the exact bytes matter.
 *
 * @example
 * sentryJson({ comment: 'Über 🚀' }); // '{"comment":"\\u00dcber \\ud83d\\ude80"}'
 */
export function sentryJson(value: unknown): string {
  return serialize(value);
}

/** A float that Python would print with a decimal point (e.g. `1.0`). */
export class PyFloat {
  readonly value: number;
  constructor(value: number) { this.value = value; }
}

function serialize(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof PyFloat) {
    const n = value.value;
    if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
    return pyFloat(n);
  }
  switch (typeof value) {
    case 'string': return quote(value);
    case 'number': return Number.isInteger(value) ? pyNumber(value) : pyFloat(value);
    case 'boolean': return value ? 'true' : 'false';
    case 'bigint': return value.toString();
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`;
      const parts: string[] = [];
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (item === undefined) continue;
        parts.push(`${quote(key)}:${serialize(item)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`cannot serialise a ${typeof value}`);
  }
}

// Sentry uses ignore_nan=True: NaN and infinities become null.
function pyNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * Python's float repr: the same shortest digits as JavaScript, but scientific notation below 1e-4
 * and from 1e16 up, with a signed exponent of at least two digits (`5e-08`, `1e+16`).
 */
function pyFloat(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e16)) {
    const [mantissa, exponent] = n.toExponential().split('e') as [string, string];
    const sign = exponent.startsWith('-') ? '-' : '+';
    return `${mantissa}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(n);
}

const ESCAPES: Record<string, string> = {
  '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t',
};

function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const code = text.charCodeAt(i);
    const escape = ESCAPES[ch];
    if (escape) out += escape;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
