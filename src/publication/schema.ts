/**
 * The UI-component schema, checked as Sentry's `validate_ui_element_schema` checks it
 * (getsentry/sentry:src/sentry/sentry_apps/api/parsers/schema.py): an `elements` array of issue-link,
 * alert-rule-action, issue-media and stacktrace-link (at most one of each), each with its required fields;
 * uris start with "/"; select fields have exactly one of uri/options; text/textarea defaults are
 * issue.title or issue.description. Messages name the path of the offending field.
 */

/** One schema problem: where, and what. */
export interface SchemaProblem {
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  problems: SchemaProblem[] = [];
  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }
  object(value: unknown, path: string, required: string[]): value is Obj {
    if (!isObj(value)) {
      this.add(path, 'must be an object');
      return false;
    }
    for (const key of required) if (value[key] === undefined) this.add(`${path}.${key}`, `'${key}' is a required property`);
    return true;
  }
  string(obj: Obj, key: string, path: string): void {
    if (obj[key] !== undefined && typeof obj[key] !== 'string') this.add(`${path}.${key}`, 'must be a string');
  }
  uri(obj: Obj, key: string, path: string): void {
    const v = obj[key];
    if (v === undefined) return;
    if (typeof v !== 'string' || !v.startsWith('/')) this.add(`${path}.${key}`, `must be a path starting with "/" (Sentry calls it on your webhook host), got ${JSON.stringify(v)}`);
  }
  mediaUrl(obj: Obj, path: string): void {
    const v = obj.url;
    if (v !== undefined && (typeof v !== 'string' || !/^(?:https?|\/)/.test(v))) this.add(`${path}.url`, 'must start with http(s):// or "/"');
  }
  fieldset(value: unknown, path: string): void {
    if (value === undefined) return;
    if (!Array.isArray(value) || value.length === 0) {
      this.add(path, 'must be a non-empty array of select, text or textarea fields');
      return;
    }
    value.forEach((field, i) => this.field(field, `${path}[${i}]`));
  }
  field(field: unknown, path: string): void {
    if (!this.object(field, path, ['type', 'name', 'label'])) return;
    this.string(field, 'name', path);
    this.string(field, 'label', path);
    const type = field.type;
    if (type === 'select') {
      const hasUri = field.uri !== undefined;
      const hasOptions = field.options !== undefined;
      if (hasUri === hasOptions) this.add(path, 'a select needs exactly one of "uri" or "options"');
      this.uri(field, 'uri', path);
      if (hasOptions) {
        const ok = Array.isArray(field.options) && field.options.length > 0 && field.options.every((o) => Array.isArray(o) && o.length === 2 && typeof o[0] === 'string' && (typeof o[1] === 'string' || typeof o[1] === 'number'));
        if (!ok) this.add(`${path}.options`, 'must be a non-empty array of [label, value] pairs');
      }
      if (field.depends_on !== undefined && !(Array.isArray(field.depends_on) && field.depends_on.length > 0 && field.depends_on.every((d) => typeof d === 'string'))) {
        this.add(`${path}.depends_on`, 'must be a non-empty array of field names');
      }
    } else if (type === 'text' || type === 'textarea') {
      if (field.default !== undefined && field.default !== 'issue.title' && field.default !== 'issue.description') {
        this.add(`${path}.default`, `may only be "issue.title" or "issue.description", got ${JSON.stringify(field.default)}`);
      }
    } else {
      this.add(`${path}.type`, `field type must be select, text or textarea, got ${JSON.stringify(type)}`);
    }
  }
  linkForm(value: unknown, path: string): void {
    if (!this.object(value, path, ['uri', 'required_fields'])) return;
    this.uri(value, 'uri', path);
    this.fieldset(value.required_fields, `${path}.required_fields`);
    this.fieldset(value.optional_fields, `${path}.optional_fields`);
  }
  element(el: Obj, path: string): void {
    switch (el.type) {
      case 'issue-link':
        if (!this.object(el, path, ['link', 'create'])) return;
        if (el.link !== undefined) this.linkForm(el.link, `${path}.link`);
        if (el.create !== undefined) this.linkForm(el.create, `${path}.create`);
        return;
      case 'stacktrace-link':
        if (this.object(el, path, ['uri'])) this.uri(el, 'uri', path);
        return;
      case 'alert-rule-action': {
        if (!this.object(el, path, ['title', 'settings'])) return;
        this.string(el, 'title', path);
        const settings = el.settings;
        if (settings === undefined) return;
        const sp = `${path}.settings`;
        if (!this.object(settings, sp, ['type', 'uri', 'required_fields'])) return;
        if (settings.type !== 'alert-rule-settings') this.add(`${sp}.type`, 'must be "alert-rule-settings"');
        this.uri(settings, 'uri', sp);
        const d = settings.description;
        if (d !== undefined && (typeof d !== 'string' || d.length < 1 || d.length > 140)) this.add(`${sp}.description`, 'must be 1–140 characters');
        this.fieldset(settings.required_fields, `${sp}.required_fields`);
        this.fieldset(settings.optional_fields, `${sp}.optional_fields`);
        return;
      }
      case 'issue-media': {
        if (!this.object(el, path, ['title', 'elements'])) return;
        const items = el.elements;
        if (items === undefined) return;
        if (!Array.isArray(items) || items.length === 0) {
          this.add(`${path}.elements`, 'must be a non-empty array');
          return;
        }
        items.forEach((item, i) => {
          const ip = `${path}.elements[${i}]`;
          if (!isObj(item)) return this.add(ip, 'must be an object');
          const required: Record<string, string[]> = { header: ['text'], markdown: ['text'], image: ['url'], video: ['url'] };
          const req = typeof item.type === 'string' ? required[item.type] : undefined;
          if (!req) return this.add(`${ip}.type`, `must be header, markdown, image or video, got ${JSON.stringify(item.type)}`);
          this.object(item, ip, req);
          if (item.type === 'image' || item.type === 'video') this.mediaUrl(item, ip);
        });
        return;
      }
      default:
        this.add(`${path}.type`, `Element has type ${JSON.stringify(el.type)}. Type must be one of: issue-link, alert-rule-action, issue-media, stacktrace-link`);
    }
  }
}

/**
 * Validates a UI-component schema; `{}` (or absent) means "no UI components" and is valid.
 * @example validateUiSchema({ elements: [{ type: 'stacktrace-link', uri: '/open' }] }) // []
 */
export function validateUiSchema(schema: unknown): SchemaProblem[] {
  if (schema === undefined || schema === null || schema === '' || (isObj(schema) && Object.keys(schema).length === 0)) return [];
  const c = new Checker();
  if (!isObj(schema)) return [{ path: 'schema', message: 'must be an object with an "elements" array' }];
  const elements = schema.elements;
  if (elements === undefined) return [{ path: 'schema.elements', message: "'elements' is a required property" }];
  if (!Array.isArray(elements) || elements.length === 0) return [{ path: 'schema.elements', message: "'elements' should be a non-empty array of objects" }];
  const seen = new Set<unknown>();
  elements.forEach((el, i) => {
    const path = `schema.elements[${i}]`;
    if (!isObj(el) || el.type === undefined) return c.add(path, "Each element needs a 'type' field");
    if (seen.has(el.type)) c.add(`${path}.type`, `Multiple elements of type: ${String(el.type)}`);
    seen.add(el.type);
    c.element(el, path);
  });
  return c.problems;
}

/** The element types present in a schema. @example schemaElementTypes({ elements: [{ type: 'issue-link' }] }) // ['issue-link'] */
export function schemaElementTypes(schema: unknown): string[] {
  if (!isObj(schema) || !Array.isArray(schema.elements)) return [];
  return schema.elements.flatMap((e) => (isObj(e) && typeof e.type === 'string' ? [e.type] : []));
}
