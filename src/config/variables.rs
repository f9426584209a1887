//! Every variable the authorizer reads, with its default and meaning: `--help` prints them, the
//! README's table and the CDK construct's properties are checked against them, and problems are
//! reported in their order.

/// Every variable the authorizer reads, with its default and meaning; printed by `--help`.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "CONFIG_FILE",
        "(none)",
        "TOML or JSON file of several issuers and route rules (see README); replaces TOKEN_ISSUER, JWKS_URI, AUDIENCE",
    ),
    (
        "TOKEN_ISSUER",
        "(required)",
        "Exact `iss` of accepted tokens, e.g. https://tenant.auth0.com/ (keep the trailing slash)",
    ),
    (
        "JWKS_URI",
        "(discovered)",
        "The issuer's JWKS; when unset, read from TOKEN_ISSUER's .well-known/openid-configuration",
    ),
    (
        "AUDIENCE",
        "(required)",
        "Accepted `aud` value(s), comma-separated (the Auth0 API identifier); with TOKEN_USE: the Cognito app client ids",
    ),
    (
        "ISSUER_NAME",
        "(issuer host)",
        "The issuer's name in metrics and logs",
    ),
    (
        "TOKEN_USE",
        "(none)",
        "Amazon Cognito user pool tokens: access, id or any (checks token_use, and client_id or aud against AUDIENCE)",
    ),
    (
        "REQUIRED_CLAIMS",
        "(none)",
        "Claims every token must carry besides exp and sub, comma-separated (null counts as missing)",
    ),
    (
        "ALLOWED_ALGORITHMS",
        "RS256",
        "Comma-separated: RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA",
    ),
    (
        "CLOCK_SKEW_LEEWAY_SECONDS",
        "5",
        "Leeway for exp, nbf and iat",
    ),
    (
        "REQUIRE_SENDER_CONSTRAINT",
        "false",
        "Refuse tokens without a `cnf` claim (DPoP or certificate binding); bound tokens are always checked (see README \"Sender-constrained tokens\")",
    ),
    (
        "DPOP_PROOF_MAX_AGE_SECONDS",
        "60",
        "How old a DPoP proof may be (by its iat), plus the leeway; a proof from the future beyond the leeway is refused too",
    ),
    (
        "DPOP_REPLAY_CACHE_SIZE",
        "10000",
        "How many DPoP proof jti values one instance remembers to refuse replays (per instance, not shared)",
    ),
    (
        "MAX_TOKEN_BYTES",
        "16384",
        "Longer tokens are refused before parsing",
    ),
    (
        "JWKS_REFRESH_INTERVAL_SECONDS",
        "600",
        "Longest time a key set is used before it is fetched again",
    ),
    (
        "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
        "60",
        "Floor for Cache-Control max-age, and retry delay after a failed refresh",
    ),
    (
        "JWKS_KID_MISS_COOLDOWN_SECONDS",
        "10",
        "After a fetch that did not find a kid, unknown kids cause no fetch for this long (at least 1 s: 0 counts as 1)",
    ),
    (
        "VERIFIED_TOKEN_CACHE_SIZE",
        "10000",
        "How many verified tokens to remember, so a token seen again skips the signature check (0: off)",
    ),
    (
        "JWKS_TIMEOUT_MS",
        "3000",
        "Whole JWKS / discovery request time limit",
    ),
    ("JWKS_MAX_BYTES", "1048576", "Largest JWKS body accepted"),
    (
        "JWKS_ALLOW_HTTP",
        "false",
        "Allow http:// JWKS on non-loopback hosts (loopback is always allowed)",
    ),
    (
        "JWKS_CA_FILE",
        "(none)",
        "PEM file of extra root certificates trusted for the JWKS endpoint",
    ),
    (
        "POLICY_RESOURCE",
        "stage",
        "stage: Allow arn:..:{api}/{stage}/*/* (right for API Gateway's policy cache); method: only the called methodArn",
    ),
    (
        "ROUTE_SCOPES",
        "(none)",
        "Routes that need scopes, `;`-separated: `GET /pets=read:pets; POST /pets=write:pets`",
    ),
    (
        "CONTEXT_CLAIMS",
        "(none)",
        "Claims passed to the backend in the authorizer context, comma-separated (scope is always passed)",
    ),
    (
        "REJECT_MODE",
        "unauthorized",
        "unauthorized: Lambda error `Unauthorized` (401); deny: a Deny policy (403, no Lambda error)",
    ),
    (
        "HTTP_API_RESPONSE",
        "simple",
        "HTTP API (payload 2.0) answers: simple ({isAuthorized, context}) or policy. With route rules, simple needs $context.routeKey in IDENTITY_SOURCE",
    ),
    (
        "IDENTITY_SOURCE",
        "$request.header.Authorization",
        "The authorizer's identity sources as set in API Gateway, comma-separated; the first header or query parameter holds the token",
    ),
    (
        "SCOPE_CLAIMS",
        "scope,scp",
        "Claims read as scopes, comma-separated, the first present wins (Auth0 RBAC: permissions); a space-separated string or an array",
    ),
    (
        "USAGE_IDENTIFIER_CLAIM",
        "(none)",
        "Claim answered as usageIdentifierKey, for REST usage plans (API key source AUTHORIZER); tokens without it are refused",
    ),
    // Cold start and cost (issue 16).
    (
        "JWKS_FILE",
        "(none)",
        "A JWKS file (bundled, or in a layer) used from init, so no cold start waits for the issuer; refreshed from JWKS_URI as usual",
    ),
    // Token introspection, RFC 7662 (issue 19).
    (
        "INTROSPECT",
        "off",
        "off; opaque: tokens that are not JWTs are introspected; always: JWTs too, after local verification (route rules with introspect = true narrow it)",
    ),
    (
        "INTROSPECTION_ENDPOINT",
        "(discovered)",
        "The issuer's RFC 7662 endpoint; when unset, introspection_endpoint from its OIDC or RFC 8414 metadata",
    ),
    (
        "INTROSPECTION_CLIENT_ID",
        "(none)",
        "Client id for the introspection endpoint (client_secret_basic); required to introspect",
    ),
    (
        "INTROSPECTION_CLIENT_SECRET",
        "(none)",
        "Client secret for the introspection endpoint; never logged",
    ),
    (
        "INTROSPECTION_CLIENT_SECRET_FILE",
        "(none)",
        "A file holding the client secret instead (a trailing newline is dropped)",
    ),
    (
        "INTROSPECTION_CLIENT_SECRET_ARN",
        "(none)",
        "The client secret from the AWS Parameters and Secrets Lambda Extension, read at start-up: a Secrets Manager secret id or ARN (its SecretString), or ssm:<parameter name> (a SecureString, decrypted)",
    ),
    (
        "INTROSPECTION_CACHE_SECONDS",
        "60",
        "How long an active answer is used (never past the token's exp): the longest a revocation goes unseen; inactive answers 5 s at most",
    ),
    (
        "INTROSPECTION_FAIL_OPEN",
        "false",
        "With the endpoint unavailable, serve locally verified JWTs (always mode; counted); opaque tokens are refused regardless",
    ),
    (
        "INTROSPECTION_TIMEOUT_MS",
        "1000",
        "Whole introspection call time limit (responses over 64 KiB are refused)",
    ),
    (
        "INTROSPECTION_MAX_CALLS_PER_SECOND",
        "50",
        "Calls for tokens not in the cache, per issuer and instance; the excess is refused (introspection_rate_limited)",
    ),
    // Cedar policies (issue 18, feature `cedar`).
    (
        "CEDAR_POLICIES",
        "(none)",
        "A .cedar file, or a folder of them: Cedar policies evaluated for every known route at a cache miss and compiled into the one cached policy",
    ),
    (
        "CEDAR_SCHEMA",
        "(none)",
        "A Cedar schema (human format, or JSON by .json) the policies are validated against at start-up",
    ),
    (
        "CEDAR_NAMESPACE",
        "(the schema's)",
        "Namespace of the User, UserGroup, Application and Action types, as in Verified Permissions (PetStore)",
    ),
    (
        "CEDAR_ROUTES",
        "(none)",
        "The API's routes, `;`-separated: `GET /pets; GET /pets/{petId}` (besides API_DEFINITION's; default: the schema's actions)",
    ),
    (
        "API_DEFINITION",
        "(none)",
        "An OpenAPI 3 document (YAML, or JSON by .json) whose operations are the API's routes",
    ),
    (
        "CEDAR_GROUPS_CLAIM",
        "groups",
        "The claim whose strings are the principal's groups (Cognito user pools: cognito:groups)",
    ),
];
