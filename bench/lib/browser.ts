/**
 * Just enough of a browser for the authorization-code scenario: a cookie jar that honours paths
 * and deletions, and an HTML form reader. No dependency: the pages are Keyport's own.
 */

interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
}

export class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>();

  /** Takes the Set-Cookie headers of a response for `requestUrl`. */
  store(requestUrl: URL, setCookies: readonly string[]): void {
    for (const header of setCookies) {
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = requestUrl.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const attribute of attributes) {
        const [rawKey = '', ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const attrValue = rest.join('=').trim();
        if (key === 'path' && attrValue.startsWith('/')) path = attrValue;
        if (key === 'max-age' && Number(attrValue) <= 0) expired = true;
        if (key === 'expires' && Date.parse(attrValue) <= Date.now()) expired = true;
      }
      const id = `${name};${path}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  /** The Cookie header for a request to `url` (RFC 6265 path matching, longer paths first). */
  header(url: URL): string | undefined {
    const matching = [...this.cookies.values()]
      .filter(({ path }) => url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map(({ name, value }) => `${name}=${value}`).join('; ') : undefined;
  }
}

export interface HtmlControl {
  readonly tag: 'input' | 'button' | 'select' | 'textarea';
  readonly type: string;
  readonly name: string | undefined;
  readonly value: string;
  readonly checked: boolean;
}

export interface HtmlForm {
  readonly action: string;
  readonly method: 'GET' | 'POST';
  readonly controls: readonly HtmlControl[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+|#39);/gi, (whole, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#') && entity !== '#39') return String.fromCodePoint(Number(entity.slice(1)));
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

export function parseAttributes(tag: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const body = tag.replace(/^<\w+/, '').replace(/\/?>$/, '');
  const pattern = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  for (const match of body.matchAll(pattern)) {
    attributes.set(match[1]!.toLowerCase(), decodeEntities(match[2] ?? match[3] ?? match[4] ?? ''));
  }
  return attributes;
}

/** Every <form> in a page with its controls, in document order. */
export function parseForms(html: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  const withoutComments = html.replace(/<!--[\s\S]*?-->/g, '');
  for (const match of withoutComments.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const openTag = /^<form\b[^>]*>/i.exec(match[0])![0];
    const attributes = parseAttributes(openTag);
    const controls: HtmlControl[] = [];
    for (const control of match[1]!.matchAll(/<(input|button|select|textarea)\b[^>]*>(?:([\s\S]*?)<\/\1>)?/gi)) {
      const tag = control[1]!.toLowerCase() as HtmlControl['tag'];
      const attrs = parseAttributes(/^<[^>]*>/.exec(control[0])![0]);
      const defaultType = tag === 'button' ? 'submit' : tag === 'input' ? 'text' : tag;
      let value = attrs.get('value') ?? '';
      if (tag === 'textarea') value = decodeEntities(control[2] ?? '');
      if (tag === 'select') {
        const options = [...(control[2] ?? '').matchAll(/<option\b[^>]*>/gi)].map((o) => parseAttributes(o[0]));
        const chosen = options.find((o) => o.has('selected')) ?? options[0];
        value = chosen?.get('value') ?? '';
      }
      controls.push({ tag, type: (attrs.get('type') ?? defaultType).toLowerCase(), name: attrs.get('name'), value, checked: attrs.has('checked') });
    }
    forms.push({ action: attributes.get('action') ?? '', method: (attributes.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET', controls });
  }
  return forms;
}

const NEGATIVE = /abort|cancel|deny|decline|reject|logout|sign.?out/i;
const LOGIN_NAME = /e-?mail|login|user|identifier|account/i;

/**
 * The form a user would submit on an interaction page: the one with a password field (login),
 * else the first POST form that does not abort or deny (consent).
 */
export function chooseForm(forms: readonly HtmlForm[]): HtmlForm | undefined {
  const login = forms.find((form) => form.controls.some((c) => c.type === 'password'));
  if (login) return login;
  const candidates = forms.filter((form) => !NEGATIVE.test(form.action));
  return candidates.find((form) => form.method === 'POST') ?? candidates[0];
}

/** The fields a user submits: hidden values kept, email and password typed, the positive button pressed. */
export function fillForm(form: HtmlForm, credentials: { email: string; password: string }): URLSearchParams {
  const fields = new URLSearchParams();
  let pressed = false;
  for (const control of form.controls) {
    if (!control.name) continue;
    switch (control.type) {
      case 'password':
        fields.append(control.name, credentials.password);
        break;
      case 'email':
        fields.append(control.name, credentials.email);
        break;
      case 'text':
        fields.append(control.name, LOGIN_NAME.test(control.name) ? credentials.email : control.value);
        break;
      case 'checkbox':
      case 'radio':
        if (control.checked) fields.append(control.name, control.value || 'on');
        break;
      case 'submit':
      case 'image':
        if (!pressed && !NEGATIVE.test(`${control.name} ${control.value}`)) {
          fields.append(control.name, control.value);
          pressed = true;
        }
        break;
      case 'button':
      case 'reset':
      case 'file':
        break;
      default:
        // hidden (CSRF tokens, uid, prompt), and any other typed value
        fields.append(control.name, control.value);
    }
  }
  return fields;
}
