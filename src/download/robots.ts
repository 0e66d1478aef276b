/**
 * X-Robots-Tag opt-outs (`noai`, `noimageai`), read as img2dataset reads them: each header value is
 * `[<user agent>:] directive, directive, ...`; a value without a user agent applies to everyone, one
 * with a user agent only to that crawler.
 */

/** The directive that forbids our use, or undefined. `values` are the X-Robots-Tag header values. */
export function robotsOptOut(
  values: string | string[] | undefined,
  userAgentToken: string,
  disallowed: readonly string[],
): string | undefined {
  if (values === undefined) return undefined;
  const token = userAgentToken.toLowerCase();
  for (const value of Array.isArray(values) ? values : [values]) {
    // Several values may also arrive folded into one header line, separated by commas; a
    // `ua: ...` prefix can only start a value, so split on the colon first.
    const colon = value.indexOf(':');
    const prefix = colon >= 0 ? value.slice(0, colon).trim().toLowerCase() : undefined;
    // `unavailable_after: <date>` is a directive with an argument, not a user agent.
    const isAgent = prefix !== undefined && prefix !== 'unavailable_after' && !prefix.includes(',');
    if (isAgent && prefix !== token) continue;
    const directives = (isAgent ? value.slice(colon + 1) : value).split(',').map((d) => d.trim().toLowerCase());
    const hit = directives.find((d) => disallowed.includes(d));
    if (hit) return hit;
  }
  return undefined;
}
