import { Duration } from 'aws-cdk-lib';
import { parseIdentitySource } from './identity';

/**
 * How one construct property becomes one environment variable of the authorizer.
 *
 * `T` is the property's TypeScript type; `encode` writes it the way the authorizer's
 * configuration reader (src/config/) parses the variable.
 */
export interface VariableBinding<T> {
  /** The environment variable, exactly as the authorizer reads it. */
  readonly variable: string;
  /** The property's type as the README's table shows it. */
  readonly type: string;
  /** The variable's value for a property value. */
  encode(value: T): string;
}

/** Algorithms the authorizer can verify (`ALLOWED_ALGORITHMS`); HMAC and `none` never are. */
export type JwtAlgorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'EdDSA';

/**
 * Routes that need scopes: `{ 'POST /pets': ['write:pets'], 'DELETE /pets/{petId}': ['admin'] }`.
 * Every listed scope is needed; `{param}` segments match any value, `ANY` any method.
 */
export type RouteScopes = Readonly<Record<string, readonly string[]>>;

const text = (variable: string): VariableBinding<string> => ({
  variable,
  type: 'string',
  encode: (value) => value,
});

const list = <T extends string = string>(variable: string, type = 'string[]'): VariableBinding<readonly T[]> => ({
  variable,
  type,
  encode: (values) => {
    if (values.some((v) => v.includes(',') || v.trim() !== v || v === '')) {
      throw new Error(`${variable}: each value must be non-empty, without commas or surrounding spaces`);
    }
    return values.join(',');
  },
});

const oneOf = <T extends string>(variable: string, ...allowed: T[]): VariableBinding<T> => ({
  variable,
  type: allowed.map((a) => `'${a}'`).join(' | '),
  encode: (value) => {
    if (!allowed.includes(value)) {
      throw new Error(`${variable}: '${value}' is not one of ${allowed.join(', ')}`);
    }
    return value;
  },
});

const count = (variable: string): VariableBinding<number> => ({
  variable,
  type: 'number',
  encode: (value) => {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(`${variable}: ${value} is not a whole number >= 0`);
    }
    return String(value);
  },
});

const flag = (variable: string): VariableBinding<boolean> => ({
  variable,
  type: 'boolean',
  encode: (value) => (value ? 'true' : 'false'),
});

/** A Duration in whole seconds (the authorizer's `*_SECONDS` variables). */
const seconds = (variable: string): VariableBinding<Duration> => ({
  variable,
  type: 'Duration (whole seconds)',
  encode: (value) => String(value.toSeconds()),
});

/** A Duration in whole milliseconds (the authorizer's `*_MS` variables). */
const milliseconds = (variable: string): VariableBinding<Duration> => ({
  variable,
  type: 'Duration (whole ms)',
  encode: (value) => String(value.toMilliseconds()),
});

const routes = (variable: string): VariableBinding<RouteScopes> => ({
  variable,
  type: 'RouteScopes',
  encode: (rules) =>
    Object.entries(rules)
      .map(([route, scopes]) => {
        if (!/^[A-Za-z*]+ \/\S*$/.test(route) || route.includes(';') || route.includes('=')) {
          throw new Error(`${variable}: route '${route}' must read 'METHOD /path', as in 'GET /pets/{petId}'`);
        }
        if (scopes.length === 0 || scopes.some((s) => s === '' || /[\s;=]/.test(s))) {
          throw new Error(`${variable}: route '${route}' needs at least one scope, each without spaces, ';' or '='`);
        }
        return `${route}=${scopes.join(' ')}`;
      })
      .join('; '),
});

/** Identity sources in either API's syntax, written in HTTP API syntax (the authorizer reads both). */
const identitySources = (variable: string): VariableBinding<readonly string[]> => ({
  variable,
  type: 'string[]',
  encode: (sources) => parseIdentitySource(sources, variable).join(','),
});

/**
 * Every environment variable of the authorizer, as a construct property (the key).
 *
 * This table is the single source of truth: `AuthorizerSettings` is derived from it (so each
 * property keeps the doc comment written here), the function's environment is encoded with it,
 * the README's property table is generated from it (`npm run readme-table`), and
 * test/variables.test.ts fails when it and the Rust `VARIABLES` tables disagree.
 * Adding a variable is one line here (and its doc comment).
 */
export const AUTHORIZER_VARIABLES = {
  /** A TOML or JSON file of several issuers and route rules (in Lambda: `/opt/...`, from a layer); replaces tokenIssuer, jwksUri, audiences, tokenUse. */
  configFile: text('CONFIG_FILE'),
  /** Exact `iss` of accepted tokens, e.g. `https://tenant.auth0.com/` (keep the trailing slash). */
  tokenIssuer: text('TOKEN_ISSUER'),
  /** The issuer's JWKS; default: discovered from tokenIssuer's `.well-known/openid-configuration`. */
  jwksUri: text('JWKS_URI'),
  /** Accepted `aud` values (Auth0: the API identifier; with tokenUse: the Cognito app client ids). */
  audiences: list('AUDIENCE'),
  /** The issuer's name in metrics and logs; default: the issuer's host. */
  issuerName: text('ISSUER_NAME'),
  /** Amazon Cognito user pools: which tokens to accept. */
  tokenUse: oneOf('TOKEN_USE', 'access', 'id', 'any'),
  /** Claims every token must carry besides `exp` and `sub`. */
  requiredClaims: list('REQUIRED_CLAIMS'),
  /** Accepted signature algorithms; default `['RS256']`. */
  allowedAlgorithms: list<JwtAlgorithm>('ALLOWED_ALGORITHMS', 'JwtAlgorithm[]'),
  /** Leeway for `exp`, `nbf` and `iat`; default 5 s. */
  clockSkewLeeway: seconds('CLOCK_SKEW_LEEWAY_SECONDS'),
  /** Longer tokens are refused before any parsing; default 16384. */
  maxTokenBytes: count('MAX_TOKEN_BYTES'),
  /** Longest time a key set is used before it is fetched again; default 600 s. */
  jwksRefreshInterval: seconds('JWKS_REFRESH_INTERVAL_SECONDS'),
  /** Floor for the issuer's `Cache-Control: max-age`, and the retry delay after a failed refresh; default 60 s. */
  jwksMinRefreshInterval: seconds('JWKS_MIN_REFRESH_INTERVAL_SECONDS'),
  /** After a fetch that did not find a token's `kid`, unknown kids cause no fetch for this long; default 10 s. */
  jwksKidMissCooldown: seconds('JWKS_KID_MISS_COOLDOWN_SECONDS'),
  /** How many verified tokens to remember, so a token seen again skips the signature check (0: off); default 10000. */
  verifiedTokenCacheSize: count('VERIFIED_TOKEN_CACHE_SIZE'),
  /** Time limit for a whole JWKS (or discovery) request; default 3000 ms. */
  jwksTimeout: milliseconds('JWKS_TIMEOUT_MS'),
  /** Largest JWKS body accepted; default 1048576. */
  jwksMaxBytes: count('JWKS_MAX_BYTES'),
  /** Allow `http://` JWKS on non-loopback hosts (never in production); default false. */
  jwksAllowHttp: flag('JWKS_ALLOW_HTTP'),
  /** PEM file of extra root certificates trusted for the JWKS endpoint (in Lambda: `/opt/...`, from a layer). */
  jwksCaFile: text('JWKS_CA_FILE'),
  /** Refuse tokens without a `cnf` claim (DPoP or certificate binding); bound tokens are always checked. Default false. */
  requireSenderConstraint: flag('REQUIRE_SENDER_CONSTRAINT'),
  /** How old a DPoP proof may be (by its `iat`), plus the leeway; default 60 s. */
  dpopProofMaxAge: seconds('DPOP_PROOF_MAX_AGE_SECONDS'),
  /** How many DPoP proof `jti` values one instance remembers to refuse replays (per instance); default 10000. */
  dpopReplayCacheSize: count('DPOP_REPLAY_CACHE_SIZE'),
  /** A JWKS file shipped with the function or in a layer (`/opt/jwks.json`): its keys answer from init, so no cold start waits for the issuer; then refreshed from the issuer as usual. */
  jwksFile: text('JWKS_FILE'),
  /** Token introspection (RFC 7662): `off` (default); `opaque`: tokens that are not JWTs are introspected; `always`: JWTs too, after local verification (revocation). */
  introspect: oneOf('INTROSPECT', 'off', 'opaque', 'always'),
  /** The issuer's RFC 7662 introspection endpoint; default: `introspection_endpoint` from its OIDC or RFC 8414 metadata. */
  introspectionEndpoint: text('INTROSPECTION_ENDPOINT'),
  /** Client id the authorizer authenticates with at the introspection endpoint (`client_secret_basic`). */
  introspectionClientId: text('INTROSPECTION_CLIENT_ID'),
  /** The client secret, in plain text in the function's environment: prefer introspectionClientSecretFile. Never logged. */
  introspectionClientSecret: text('INTROSPECTION_CLIENT_SECRET'),
  /** A file holding the client secret (in Lambda: `/opt/...`, or written at init); a trailing newline is dropped. */
  introspectionClientSecretFile: text('INTROSPECTION_CLIENT_SECRET_FILE'),
  /** The client secret read at init through the AWS Parameters and Secrets Lambda Extension (add its layer; grant `secretsmanager:GetSecretValue` or `ssm:GetParameter`): a Secrets Manager secret id or ARN, or `ssm:<parameter name>`. Exclusive with the two above. */
  introspectionClientSecretArn: text('INTROSPECTION_CLIENT_SECRET_ARN'),
  /** How long an active introspection answer is used (never past the token's `exp`): the longest a revocation goes unseen; default 60 s. */
  introspectionCache: seconds('INTROSPECTION_CACHE_SECONDS'),
  /** With the introspection endpoint unavailable, serve locally verified JWTs (`always` mode; counted); opaque tokens are refused regardless. Default false. */
  introspectionFailOpen: flag('INTROSPECTION_FAIL_OPEN'),
  /** Time limit for a whole introspection call; default 1000 ms. */
  introspectionTimeout: milliseconds('INTROSPECTION_TIMEOUT_MS'),
  /** Introspection calls for tokens not in the cache, per issuer and instance; the excess is refused. Default 50. */
  introspectionMaxCallsPerSecond: count('INTROSPECTION_MAX_CALLS_PER_SECOND'),
  /** A `.cedar` file or a folder of them, shipped with the function or in a layer (`/opt/cedar/policies`): Cedar policies evaluated for every route at a cache miss and compiled into the one cached policy. */
  cedarPolicies: text('CEDAR_POLICIES'),
  /** A Cedar schema (human format, or JSON by `.json`) the policies are validated against at start-up. */
  cedarSchema: text('CEDAR_SCHEMA'),
  /** The namespace of the `User`, `UserGroup`, `Application` and `Action` types (default: the schema's). */
  cedarNamespace: text('CEDAR_NAMESPACE'),
  /** The API's routes for Cedar, `;`-separated: `GET /pets; GET /pets/{petId}`. */
  cedarRoutes: text('CEDAR_ROUTES'),
  /** An OpenAPI 3 document (YAML, or JSON by `.json`) whose operations are the API's routes for Cedar. */
  apiDefinition: text('API_DEFINITION'),
  /** The claim whose strings are the principal's Cedar groups (default `groups`; Cognito user pools: `cognito:groups`). */
  cedarGroupsClaim: text('CEDAR_GROUPS_CLAIM'),
  /** `stage` (default): Allow the whole stage, right under API Gateway's policy cache; `method`: only the called route (needs TTL 0: the helpers enforce it). */
  policyResource: oneOf('POLICY_RESOURCE', 'stage', 'method'),
  /** Routes that need scopes; a token without them gets an explicit Deny (403) on exactly those routes. */
  routeScopes: routes('ROUTE_SCOPES'),
  /** Claims passed to the backend in the authorizer context (`scope` always is). */
  contextClaims: list('CONTEXT_CLAIMS'),
  /** `unauthorized` (default): the Lambda error `Unauthorized` (401); `deny`: a Deny policy (403, no Lambda error). */
  rejectMode: oneOf('REJECT_MODE', 'unauthorized', 'deny'),
  /** HTTP API (payload 2.0) answers; set by `httpApiAuthorizer()` to match the authorizer's response type. */
  httpApiResponse: oneOf('HTTP_API_RESPONSE', 'simple', 'policy'),
  /**
   * The authorizer's identity sources as configured in API Gateway, in order, e.g.
   * `['$request.header.Authorization', '$context.routeKey']` (REST spelling too). The helpers
   * set it from the identity sources they configure (`httpApiAuthorizer()` uses it as its
   * default) and throw when theirs disagree with it. Set it yourself only for authorizers you
   * attach without the helpers.
   */
  identitySource: identitySources('IDENTITY_SOURCE'),
  /** Claims read as scopes, the first present one wins (Okta, Entra ID: `scp`; Auth0 RBAC: `permissions`); default `['scope', 'scp']`. */
  scopeClaims: list('SCOPE_CLAIMS'),
  /**
   * A claim (e.g. `client_id`) whose value policy answers carry as `usageIdentifierKey`, so that
   * REST usage plans meter and throttle per client; tokens without it are refused. The RestApi
   * needs `apiKeySourceType: apigateway.ApiKeySourceType.AUTHORIZER`, its methods
   * `apiKeyRequired: true`, and a usage plan holding one API key per client whose value is that
   * client's claim value. HTTP APIs have no usage plans.
   */
  usageIdentifierClaim: text('USAGE_IDENTIFIER_CLAIM'),
  /** CloudWatch namespace of the EMF metrics; default `JwtAuthorizer`. */
  metricsNamespace: text('METRICS_NAMESPACE'),
  /** Value of the metrics' `service` dimension; default: the function name. */
  metricsService: text('METRICS_SERVICE'),
  /** 60 (default): metrics aggregated over 60 s windows, each written by the first invocation after it and on shutdown; 0: written after every invocation (about 1.2 KB of logs each). */
  metricsFlushInterval: seconds('METRICS_FLUSH_INTERVAL_SECONDS'),
} as const;

type ValueOf<B> = B extends VariableBinding<infer T> ? T : never;

/**
 * The authorizer's configuration: one optional property per environment variable. A property
 * left out leaves its variable unset, so the authorizer's own default applies.
 */
export type AuthorizerSettings = {
  readonly [P in keyof typeof AUTHORIZER_VARIABLES]?: ValueOf<(typeof AUTHORIZER_VARIABLES)[P]>;
};

/** The environment variables for `settings` (only the properties that are set). */
export function environmentFor(settings: AuthorizerSettings): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [property, binding] of Object.entries(AUTHORIZER_VARIABLES)) {
    const value = (settings as Record<string, unknown>)[property];
    if (value !== undefined) {
      environment[binding.variable] = (binding as VariableBinding<unknown>).encode(value);
    }
  }
  return environment;
}
