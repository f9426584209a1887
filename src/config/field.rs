//! What a problem with an issuer's settings is about: a field that knows its key in `CONFIG_FILE`
//! and its variable in the single-issuer environment.

/// A field of an issuer's settings that a problem can be about. It knows its key in `CONFIG_FILE`
/// and its variable in the single-issuer environment, so that no problem can be blamed on the
/// wrong one (both matches are exhaustive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Issuer,
    UserPoolId,
    JwksUri,
    Audiences,
    ClientIds,
    TokenUse,
    RequiredClaims,
    Algorithms,
    LeewaySeconds,
    RefreshIntervalSeconds,
    MinRefreshIntervalSeconds,
    KidMissCooldownSeconds,
    JwksFile,
    IntrospectMode,
    IntrospectionEndpoint,
    IntrospectionClientId,
    IntrospectionClientSecret,
    IntrospectionClientSecretFile,
    IntrospectionClientSecretArn,
    IntrospectionCacheSeconds,
    IntrospectionFailOpen,
    IntrospectionTimeoutMs,
    IntrospectionMaxCallsPerSecond,
}

impl Field {
    /// The fields of the `introspection` table.
    pub(crate) const INTROSPECTION: [Field; 10] = [
        Field::IntrospectMode,
        Field::IntrospectionEndpoint,
        Field::IntrospectionClientId,
        Field::IntrospectionClientSecret,
        Field::IntrospectionClientSecretFile,
        Field::IntrospectionClientSecretArn,
        Field::IntrospectionCacheSeconds,
        Field::IntrospectionFailOpen,
        Field::IntrospectionTimeoutMs,
        Field::IntrospectionMaxCallsPerSecond,
    ];

    /// Every field of [`IssuerSpec`] itself, in the order of its members (`require_sender_constraint`, a
    /// boolean, has no problem to report).
    #[cfg(test)]
    pub(crate) const ALL: [Field; 14] = [
        Field::Name,
        Field::Issuer,
        Field::JwksUri,
        Field::Audiences,
        Field::Algorithms,
        Field::LeewaySeconds,
        Field::RequiredClaims,
        Field::RefreshIntervalSeconds,
        Field::MinRefreshIntervalSeconds,
        Field::KidMissCooldownSeconds,
        Field::UserPoolId,
        Field::TokenUse,
        Field::ClientIds,
        Field::JwksFile,
    ];

    /// The field's key in `CONFIG_FILE`.
    pub(crate) const fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Issuer => "issuer",
            Field::UserPoolId => "user_pool_id",
            Field::JwksUri => "jwks_uri",
            Field::Audiences => "audiences",
            Field::ClientIds => "client_ids",
            Field::TokenUse => "token_use",
            Field::RequiredClaims => "required_claims",
            Field::Algorithms => "algorithms",
            Field::LeewaySeconds => "leeway_seconds",
            Field::RefreshIntervalSeconds => "refresh_interval_seconds",
            Field::MinRefreshIntervalSeconds => "min_refresh_interval_seconds",
            Field::KidMissCooldownSeconds => "kid_miss_cooldown_seconds",
            Field::JwksFile => "jwks_file",
            Field::IntrospectMode => "introspection.mode",
            Field::IntrospectionEndpoint => "introspection.endpoint",
            Field::IntrospectionClientId => "introspection.client_id",
            Field::IntrospectionClientSecret => "introspection.client_secret",
            Field::IntrospectionClientSecretFile => "introspection.client_secret_file",
            Field::IntrospectionClientSecretArn => "introspection.client_secret_arn",
            Field::IntrospectionCacheSeconds => "introspection.cache_seconds",
            Field::IntrospectionFailOpen => "introspection.fail_open",
            Field::IntrospectionTimeoutMs => "introspection.timeout_ms",
            Field::IntrospectionMaxCallsPerSecond => "introspection.max_calls_per_second",
        }
    }

    /// The environment variable that sets it for the single issuer (a user pool's id is given
    /// as its `TOKEN_ISSUER` URL, and its client ids as `AUDIENCE`).
    pub(crate) const fn variable(self) -> &'static str {
        match self {
            Field::Name => "ISSUER_NAME",
            Field::Issuer | Field::UserPoolId => "TOKEN_ISSUER",
            Field::JwksUri => "JWKS_URI",
            Field::Audiences | Field::ClientIds => "AUDIENCE",
            Field::TokenUse => "TOKEN_USE",
            Field::RequiredClaims => "REQUIRED_CLAIMS",
            Field::Algorithms => "ALLOWED_ALGORITHMS",
            Field::LeewaySeconds => "CLOCK_SKEW_LEEWAY_SECONDS",
            Field::RefreshIntervalSeconds => "JWKS_REFRESH_INTERVAL_SECONDS",
            Field::MinRefreshIntervalSeconds => "JWKS_MIN_REFRESH_INTERVAL_SECONDS",
            Field::KidMissCooldownSeconds => "JWKS_KID_MISS_COOLDOWN_SECONDS",
            Field::JwksFile => "JWKS_FILE",
            Field::IntrospectMode => "INTROSPECT",
            Field::IntrospectionEndpoint => "INTROSPECTION_ENDPOINT",
            Field::IntrospectionClientId => "INTROSPECTION_CLIENT_ID",
            Field::IntrospectionClientSecret => "INTROSPECTION_CLIENT_SECRET",
            Field::IntrospectionClientSecretFile => "INTROSPECTION_CLIENT_SECRET_FILE",
            Field::IntrospectionClientSecretArn => "INTROSPECTION_CLIENT_SECRET_ARN",
            Field::IntrospectionCacheSeconds => "INTROSPECTION_CACHE_SECONDS",
            Field::IntrospectionFailOpen => "INTROSPECTION_FAIL_OPEN",
            Field::IntrospectionTimeoutMs => "INTROSPECTION_TIMEOUT_MS",
            Field::IntrospectionMaxCallsPerSecond => "INTROSPECTION_MAX_CALLS_PER_SECOND",
        }
    }
}

/// A problem with one field: where it is reported is the caller's choice (a variable, or the
/// file, the issuer and the key).
pub(super) type Report<'a> = &'a mut dyn FnMut(Field, String);
