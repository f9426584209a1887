/**
 * Identity sources (`IDENTITY_SOURCE`), read the way the authorizer reads them (src/identity.rs).
 *
 * API Gateway caches an authorizer's answer under the values of its identity sources. The
 * authorizer verifies the token among those values (the first header or query parameter), and
 * refuses HTTP API events whose values do not match `IDENTITY_SOURCE` in number and order; so the
 * variable must name the authorizer's identity sources exactly, and the helpers set it from the
 * sources they configure.
 */

/** The kinds of identity source, with their HTTP API and REST API spellings. */
const KINDS = [
  { http: '$request.header.', rest: 'method.request.header.', holdsToken: true },
  { http: '$request.querystring.', rest: 'method.request.querystring.', holdsToken: true },
  { http: '$context.', rest: 'context.', holdsToken: false },
  { http: '$stageVariables.', rest: 'stageVariables.', holdsToken: false },
] as const;

/** The most identity sources an authorizer can have (and the authorizer reads). */
export const MAX_IDENTITY_SOURCES = 8;

/** The HTTP API's route key: in the identity source, it makes the cache per route. */
export const ROUTE_KEY = '$context.routeKey';

/** The one identity source of both APIs' defaults, in HTTP API syntax. */
export const AUTHORIZATION_HEADER = '$request.header.Authorization';

function kindOf(entry: string): { kind: (typeof KINDS)[number]; name: string } | undefined {
  for (const kind of KINDS) {
    for (const prefix of [kind.http, kind.rest]) {
      if (entry.startsWith(prefix)) {
        const name = entry.slice(prefix.length);
        return /^[^\s,]+$/.test(name) ? { kind, name } : undefined;
      }
    }
  }
  return undefined;
}

/**
 * The identity sources in HTTP API syntax (`$request.header.X`, `$request.querystring.X`,
 * `$context.X`, `$stageVariables.X`), from either API's syntax.
 *
 * @param what names the setting in error messages
 * @throws when an entry is no identity source, when there are none or more than
 *   `MAX_IDENTITY_SOURCES`, or when none holds the token (a header or a query parameter)
 */
export function parseIdentitySource(sources: readonly string[], what: string): string[] {
  const canonical = sources.map((entry) => {
    const parsed = kindOf(entry);
    if (!parsed) {
      throw new Error(
        `${what}: '${entry}' is not an identity source: write '$request.header.NAME', ` +
          `'$request.querystring.NAME', '$context.NAME' or '$stageVariables.NAME' (or the REST spelling, ` +
          `as apigateway.IdentitySource.header('NAME') gives)`,
      );
    }
    return parsed.kind.http + parsed.name;
  });
  if (canonical.length === 0 || canonical.length > MAX_IDENTITY_SOURCES) {
    throw new Error(`${what}: name 1 to ${MAX_IDENTITY_SOURCES} identity sources`);
  }
  if (credentialOf(canonical) === undefined) {
    throw new Error(`${what}: no source holds the token: name its header, as in '${AUTHORIZATION_HEADER}'`);
  }
  return canonical;
}

/** The DPoP proof's header (RFC 9449 §4.1): in the identity source, it puts the proof in the cache key. */
export const DPOP_HEADER = '$request.header.DPoP';

/** Whether an entry is the DPoP header, which holds a proof and never the token. */
export function isDpopHeader(entry: string): boolean {
  return entry.toLowerCase() === DPOP_HEADER.toLowerCase();
}

/** The source that holds the token: the first header (but `DPoP`) or query parameter. */
export function credentialOf(sources: readonly string[]): string | undefined {
  return sources.find((entry) => kindOf(entry)?.kind.holdsToken && !isDpopHeader(entry));
}

/** An identity source in REST API syntax (`method.request.header.X`, `context.X`, ...). */
export function restIdentitySource(entry: string): string {
  const parsed = kindOf(entry);
  if (!parsed) throw new Error(`'${entry}' is not an identity source`);
  return parsed.kind.rest + parsed.name;
}
