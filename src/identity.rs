//! The authorizer's identity source, as configured in API Gateway (`IDENTITY_SOURCE`).
//!
//! API Gateway caches an authorizer's answer under the values of its identity sources. Two things
//! follow, and this type carries both:
//! - the credential the authorizer verifies must be one of those values, or a cached Allow would
//!   be served to anyone who repeats the *cached* value without the verified one;
//! - an answer that depends on the route (an HTTP API simple response under route rules) is only
//!   right under the cache when one of the values is the route (`$context.routeKey`).

use std::fmt;

/// The header of a DPoP proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "DPoP";

/// The most identity sources API Gateway lets an authorizer have (and we read).
pub const MAX_IDENTITY_SOURCES: usize = 8;

/// One identity source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A request header (`$request.header.NAME`, `method.request.header.NAME`); matched without case.
    Header(String),
    /// A query string parameter (`$request.querystring.NAME`, `method.request.querystring.NAME`).
    Query(String),
    /// A context variable (`$context.NAME`, `context.NAME`), `routeKey` among them.
    Context(String),
    /// A stage variable (`$stageVariables.NAME`, `stageVariables.NAME`).
    StageVariable(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Header(name) => write!(f, "$request.header.{name}"),
            Source::Query(name) => write!(f, "$request.querystring.{name}"),
            Source::Context(name) => write!(f, "$context.{name}"),
            Source::StageVariable(name) => write!(f, "$stageVariables.{name}"),
        }
    }
}

/// The authorizer's identity sources, in API Gateway's order: the order of an HTTP API event's
/// `identitySource` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitySource {
    sources: Vec<Source>,
    /// The index of the source that holds the token: the first header (but `DPoP`) or query
    /// parameter.
    credential: usize,
}

impl Default for IdentitySource {
    /// `$request.header.Authorization`, API Gateway's default.
    fn default() -> Self {
        IdentitySource {
            sources: vec![Source::Header("Authorization".to_owned())],
            credential: 0,
        }
    }
}

impl IdentitySource {
    /// Parses a comma-separated list in either API's syntax: `$request.header.Authorization,
    /// $context.routeKey` (HTTP API) or `method.request.header.Authorization` (REST).
    ///
    /// # Errors
    /// A message naming the entry that is not an identity source, or saying that none holds a
    /// token (a header or a query string parameter).
    pub fn parse(value: &str) -> Result<Self, String> {
        let sources = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_source)
            .collect::<Result<Vec<_>, _>>()?;
        if sources.len() > MAX_IDENTITY_SOURCES {
            return Err(format!(
                "name at most {MAX_IDENTITY_SOURCES} identity sources"
            ));
        }
        // The `DPoP` header holds a proof, never the token (RFC 9449 §4.1): it may come first.
        let credential = sources
            .iter()
            .position(|s| match s {
                Source::Header(name) => !name.eq_ignore_ascii_case(DPOP_HEADER),
                Source::Query(_) => true,
                _ => false,
            })
            .ok_or(
                "no source holds the token: name its header, as in `$request.header.Authorization`",
            )?;
        Ok(IdentitySource {
            sources,
            credential,
        })
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The index of the source that holds the token.
    pub fn credential_index(&self) -> usize {
        self.credential
    }

    /// The source that holds the token: a header or a query string parameter.
    pub fn credential(&self) -> &Source {
        &self.sources[self.credential]
    }

    /// Whether API Gateway's cache key holds the DPoP proof (`$request.header.DPoP`).
    pub fn holds_dpop_proof(&self) -> bool {
        self.sources
            .iter()
            .any(|s| matches!(s, Source::Header(name) if name.eq_ignore_ascii_case(DPOP_HEADER)))
    }

    /// The index of `$context.routeKey`, when the cache key holds the route.
    pub fn route_key_index(&self) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| matches!(s, Source::Context(name) if name == "routeKey"))
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, source) in self.sources.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{source}")?;
        }
        Ok(())
    }
}

fn parse_source(entry: &str) -> Result<Source, String> {
    let rest = entry
        .strip_prefix('$')
        .map(|r| r.strip_prefix("request.").unwrap_or(r))
        .or_else(|| entry.strip_prefix("method.request."))
        .unwrap_or(entry);
    let (kind, name) = rest.split_once('.').unwrap_or((rest, ""));
    let name = name.to_owned();
    let valid_name = !name.is_empty() && !name.contains(char::is_whitespace);
    match kind {
        "header" if valid_name => Ok(Source::Header(name)),
        "querystring" if valid_name => Ok(Source::Query(name)),
        "context" if valid_name => Ok(Source::Context(name)),
        "stageVariables" if valid_name => Ok(Source::StageVariable(name)),
        _ => Err(format!(
            "{entry:?} is not an identity source: write `$request.header.NAME`, \
             `$request.querystring.NAME`, `$context.NAME` or `$stageVariables.NAME`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_apis_syntax() {
        let http =
            IdentitySource::parse("$request.header.Authorization, $context.routeKey").unwrap();
        assert_eq!(
            http.sources(),
            [
                Source::Header("Authorization".into()),
                Source::Context("routeKey".into())
            ]
        );
        assert_eq!(
            (http.credential_index(), http.route_key_index()),
            (0, Some(1))
        );

        let rest = IdentitySource::parse("context.stage,method.request.querystring.token").unwrap();
        assert_eq!(rest.credential(), &Source::Query("token".into()));
        assert_eq!((rest.credential_index(), rest.route_key_index()), (1, None));
        assert_eq!(
            rest.to_string(),
            "$context.stage, $request.querystring.token"
        );
        assert_eq!(
            IdentitySource::default().to_string(),
            "$request.header.Authorization"
        );
    }

    #[test]
    fn the_dpop_header_is_never_the_token() {
        let both =
            IdentitySource::parse("$request.header.dpop, $request.header.Authorization").unwrap();
        assert_eq!(both.credential(), &Source::Header("Authorization".into()));
        assert!(both.holds_dpop_proof());
        assert!(!IdentitySource::default().holds_dpop_proof());
        assert!(IdentitySource::parse("method.request.header.DPoP").is_err());
    }

    #[test]
    fn refuses_what_is_no_identity_source() {
        for bad in [
            "Authorization",
            "$request.header.",
            "$request.body.token",
            "$context.routeKey",
            "",
            "$request.header.A,$request.header.B,$request.header.C,$request.header.D,\
             $request.header.E,$request.header.F,$request.header.G,$request.header.H,$request.header.I",
        ] {
            assert!(IdentitySource::parse(bad).is_err(), "{bad:?}");
        }
    }
}
