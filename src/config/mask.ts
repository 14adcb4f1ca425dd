/** What a secret is replaced with wherever redkit prints something. */
export const MASK = '***';

/** Replaces the password of a redis URL with `***`; in an unparsable one (a sentinel list), everything before the host. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = MASK;
    return parsed.toString();
  } catch {
    // Up to the last "@": an unencoded "@" in a password must not leave its tail printed.
    return url.replace(/\/\/.*@/, `//${MASK}@`);
  }
}

/** Replaces every occurrence of each secret in `text` with `***`. */
export function maskSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length > 0) out = out.split(secret).join(MASK);
  }
  return out;
}
