import type { Logger } from '../../src/index.js';

/** A logger that keeps every line (object and message) as one string, to check what was logged. */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (obj: object, msg?: string) => {
    lines.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`);
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A cookie-keeping HTTP client of one base URL: one "browser". */
export function browser(base: string) {
  let cookie = '';
  const request = async (method: string, path: string) => {
    const started = performance.now();
    const res = await fetch(base + path, { method, headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(10_000) });
    const set = res.headers.getSetCookie();
    if (set.length > 0) cookie = set.map((c) => c.split(';')[0]).join('; ');
    const text = await res.text();
    let body: any = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body, ms: performance.now() - started };
  };
  return {
    get: (path: string) => request('GET', path),
    post: (path: string) => request('POST', path),
    get cookie() {
      return cookie;
    },
    set cookie(value: string) {
      cookie = value;
    },
  };
}
