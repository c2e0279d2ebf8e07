/** Decoding of Pushover request parameters from the three body encodings Pushover accepts. */

/** An uploaded file part (multipart `attachment`). */
export interface UploadedFile {
  filename: string;
  type: string;
  bytes: Uint8Array;
}

/** Decoded parameters of one request. */
export interface DecodedParams {
  encoding: 'form' | 'multipart' | 'json' | 'query' | 'none';
  params: Record<string, string>;
  attachment?: UploadedFile;
  /** Parameters that came from the query string of a POST (undocumented; see `queryParams`). */
  fromQuery: string[];
}

function jsonValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? '1' : '0';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * Decodes a body by its content type: JSON (values stringified, booleans → 1/0), multipart (via the
 * platform's `Response.formData()`), otherwise form-urlencoded. A body that does not parse gives no
 * parameters, which the validator then answers like Pushover does (token invalid, …); XML bodies
 * land there too ("We do not support receiving XML-encoded parameters").
 *
 * @example
 * await decodeParams(Buffer.from('token=a&user=b'), 'application/x-www-form-urlencoded', new URLSearchParams());
 */
export async function decodeParams(
  body: Uint8Array,
  contentType: string | undefined,
  query: URLSearchParams,
  acceptQuery = true,
): Promise<DecodedParams> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const out: DecodedParams = { encoding: 'none', params: {}, fromQuery: [] };
  if (type === 'application/json') {
    out.encoding = 'json';
    try {
      const parsed: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [k, v] of Object.entries(parsed)) out.params[k] = jsonValue(v);
      }
    } catch {
      // An unparsable JSON body carries no parameters.
    }
  } else if (type === 'multipart/form-data') {
    out.encoding = 'multipart';
    try {
      const form = await new Response(new Blob([new Uint8Array(body)]), { headers: { 'content-type': contentType ?? '' } }).formData();
      for (const [k, v] of form.entries()) {
        if (typeof v === 'string') out.params[k] = v;
        else if (k === 'attachment') {
          out.attachment = { filename: v.name, type: v.type, bytes: new Uint8Array(await v.arrayBuffer()) };
        }
      }
    } catch {
      // A malformed multipart body carries no parameters.
    }
  } else if (body.length > 0) {
    out.encoding = 'form';
    for (const [k, v] of new URLSearchParams(Buffer.from(body).toString('utf8'))) out.params[k] = v;
  }
  if (acceptQuery) {
    for (const [k, v] of query) {
      if (!(k in out.params)) {
        out.params[k] = v;
        out.fromQuery.push(k);
      }
    }
    if (out.encoding === 'none' && out.fromQuery.length > 0) out.encoding = 'query';
  }
  return out;
}
