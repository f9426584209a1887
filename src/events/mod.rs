//! The three authorizer events API Gateway sends, read without copying: the credential, the ARN,
//! the route template and the identity source values are kept, and what a sender-constrained
//! token is checked against (the `DPoP` header, the request's method, domain and path, the client
//! certificate); every other field is skipped.

use crate::identity::{DPOP_HEADER, IdentitySource, Source};
mod scan;
mod serde_reader;

use crate::json::{CowStr, cow};
pub use crate::report::EventKind;
use crate::report::Reject;
use serde::Deserialize;
use serde::de::Deserializer;
use std::borrow::Cow;

/// What the authorizer needs from an event.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event's kind.
    pub kind: EventKind,
    /// The credential (`Bearer ...`), if one was sent: `authorizationToken` (TOKEN); the identity
    /// source's header or query parameter (REQUEST); its value among `identitySource` (HTTP API),
    /// which is what API Gateway caches the answer under.
    pub authorization: Option<Cow<'a, str>>,
    /// `methodArn` (REST) or `routeArn` (HTTP API).
    pub arn: Cow<'a, str>,
    /// The route template that was called, as `(method, path)`: `("GET", "/pets/{petId}")`
    /// from a REQUEST event's `httpMethod` and `resource`, `("ANY", "/{proxy+}")` or
    /// `("$default", "")` from an HTTP API's `routeKey`. `None` for TOKEN events.
    route_method: Option<Cow<'a, str>>,
    route_path: Option<Cow<'a, str>>,
    /// API Gateway caches this answer for this route alone (the identity source holds
    /// `$context.routeKey`), or not at all (an HTTP API event without identity source values).
    pub cached_per_route: bool,
    /// What the request presented besides the token, for sender-constrained tokens.
    pub possession: Possession<'a>,
}

/// What a request presents besides its token, against which a sender-constrained token is
/// checked: each `None` when the event does not carry it (a `TOKEN` event carries none).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Possession<'a> {
    /// The `DPoP` header (RFC 9449 §4.1), matched without case.
    pub dpop: Option<Cow<'a, str>>,
    /// The request's method: `httpMethod` (REST), `requestContext.http.method` (HTTP API).
    pub method: Option<Cow<'a, str>>,
    /// The host the client called: `requestContext.domainName`.
    pub domain: Option<Cow<'a, str>>,
    /// The path as the client sent it, with the stage on default execute-api domains and the
    /// base path on custom domains: `requestContext.path` (REST), `rawPath` (HTTP API).
    pub path: Option<Cow<'a, str>>,
    /// The client certificate of a mutual TLS API, PEM: `requestContext.identity.clientCert.
    /// clientCertPem` (REST), `requestContext.authentication.clientCert.clientCertPem` (HTTP API).
    pub client_cert_pem: Option<Cow<'a, str>>,
}

impl Event<'_> {
    /// The route template that was called (see the field docs), when the event names it.
    pub fn route(&self) -> Option<(&str, &str)> {
        Some((self.route_method.as_deref()?, self.route_path.as_deref()?))
    }
}

/// Parses an authorizer event whose authorizer has API Gateway's default identity source, the
/// `Authorization` header.
///
/// # Errors
/// See [`parse_with`].
pub fn parse(json: &[u8]) -> Result<Event<'_>, Reject> {
    parse_with(json, &IdentitySource::default())
}

/// Parses an authorizer event of an authorizer with this identity source.
///
/// # Errors
/// [`Reject::BadEvent`] for anything that is not one of the three event shapes, has no ARN, or
/// carries the credential's header twice (differing only in case).
/// [`Reject::UnsafeCacheKey`] for an HTTP API event whose `identitySource` values do not match
/// `identity` (another count, or no route key where `$context.routeKey` should be): the answer
/// would be cached under a key other than the one the configuration promises.
pub fn parse_with<'a>(json: &'a [u8], identity: &IdentitySource) -> Result<Event<'a>, Reject> {
    let names = Names::of(identity);
    let mut fields = Fields::default();
    if scan::scan(json, &names, &mut fields).is_none() {
        fields = Fields::with_serde(json, &names)?;
    }
    fields.take_event(identity)
}

/// The names of the members that hold the credential, and the identity source positions read.
struct Names<'n> {
    /// The credential's header (matched without case), when the credential is a header.
    header: Option<&'n str>,
    /// The credential's query string parameter, when it is one.
    query: Option<&'n str>,
    /// The index of the credential among `identitySource`.
    credential: usize,
    /// The index of `$context.routeKey` among `identitySource`.
    route_key: Option<usize>,
}

impl<'n> Names<'n> {
    fn of(identity: &'n IdentitySource) -> Self {
        let (header, query) = match identity.credential() {
            Source::Header(name) => (Some(name.as_str()), None),
            Source::Query(name) => (None, Some(name.as_str())),
            _ => (None, None),
        };
        Names {
            header,
            query,
            credential: identity.credential_index(),
            route_key: identity.route_key_index(),
        }
    }
}

/// The fields of an event that the authorizer reads, each `None` when absent or `null`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fields<'a> {
    kind: Option<Cow<'a, str>>,
    version: Option<Cow<'a, str>>,
    authorization_token: Option<Cow<'a, str>>,
    method_arn: Option<Cow<'a, str>>,
    route_arn: Option<Cow<'a, str>>,
    /// The credential's header of `headers`.
    header: Option<Cow<'a, str>>,
    /// The credential's parameter of `queryStringParameters`.
    query: Option<Cow<'a, str>>,
    /// The values of `identitySource` that the authorizer reads.
    identity: Option<IdentityValues<'a>>,
    /// HTTP API: `routeKey`. REST REQUEST: `resource` and `httpMethod`.
    route_key: Option<Cow<'a, str>>,
    resource: Option<Cow<'a, str>>,
    http_method: Option<Cow<'a, str>>,
    /// The `DPoP` header of `headers`.
    dpop: Option<Cow<'a, str>>,
    /// HTTP API: `rawPath`.
    raw_path: Option<Cow<'a, str>>,
    /// What is read of `requestContext`.
    context: Option<Context<'a>>,
}

/// What the authorizer reads of `requestContext`.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    #[serde(borrow, default, deserialize_with = "cow_str")]
    domain_name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "cow_str")]
    path: Option<Cow<'a, str>>,
    /// HTTP API: `http.method`.
    #[serde(borrow)]
    http: Option<ContextHttp<'a>>,
    /// REST: `identity.clientCert.clientCertPem`.
    #[serde(borrow)]
    identity: Option<ContextIdentity<'a>>,
    /// HTTP API: `authentication.clientCert.clientCertPem` (the same shape as REST's `identity`).
    #[serde(borrow)]
    authentication: Option<ContextIdentity<'a>>,
}

#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
struct ContextHttp<'a> {
    #[serde(borrow, default, deserialize_with = "cow_str")]
    method: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextIdentity<'a> {
    #[serde(borrow)]
    client_cert: Option<ClientCert<'a>>,
}

#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientCert<'a> {
    #[serde(borrow, default, deserialize_with = "cow_str")]
    client_cert_pem: Option<Cow<'a, str>>,
}

/// An optional string, borrowed when it has no escapes (see [`CowStr`]).
fn cow_str<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    Option::<CowStr<'a>>::deserialize(deserializer).map(cow)
}

/// What the authorizer reads of an `identitySource` array (all strings).
#[derive(Debug, Default, PartialEq, Eq)]
struct IdentityValues<'a> {
    count: usize,
    /// The value at the credential's index.
    credential: Option<Cow<'a, str>>,
    /// The value at `$context.routeKey`'s index.
    route_key: Option<Cow<'a, str>>,
}

impl<'a> IdentityValues<'a> {
    /// Takes the `index`-th value, if it is one the authorizer reads.
    fn take(&mut self, index: usize, value: Cow<'a, str>, names: &Names<'_>) {
        if index == names.credential {
            self.credential = Some(value);
        } else if Some(index) == names.route_key {
            self.route_key = Some(value);
        }
        self.count = index + 1;
    }
}

impl<'a> Fields<'a> {
    /// The event these fields make up, taken out of them: passed by value, the fields (half a
    /// kilobyte) were copied into the call.
    fn take_event(&mut self, identity: &IdentitySource) -> Result<Event<'a>, Reject> {
        let context = self.context.take().unwrap_or_default();
        let (domain, context_path) = (context.domain_name, context.path);
        let context_method = context.http.and_then(|http| http.method);
        let pem = |holder: Option<ContextIdentity<'a>>| {
            holder
                .and_then(|holder| holder.client_cert)
                .and_then(|cert| cert.client_cert_pem)
        };
        // Each API passes the certificate in its own place, and only there.
        let (client_cert_pem, http_client_cert_pem) =
            (pem(context.identity), pem(context.authentication));
        let credential_from_request = match identity.credential() {
            Source::Query(_) => self.query.take(),
            _ => self.header.take(),
        };
        // Each `Event` is built where it is returned: built into a local first, it was copied.
        if self.version.as_deref() == Some("2.0") {
            let (authorization, cached_per_route) =
                match self.identity.take().filter(|i| i.count > 0) {
                    // API Gateway caches the answer under these values: the credential verified must
                    // be among them, and a promised route key must be there.
                    Some(values) => {
                        if values.count != identity.sources().len() {
                            return Err(Reject::UnsafeCacheKey);
                        }
                        let per_route = match values.route_key {
                            Some(value)
                                if value == self.route_key.as_deref().unwrap_or_default() =>
                            {
                                true
                            }
                            Some(_) => return Err(Reject::UnsafeCacheKey),
                            None => false,
                        };
                        (values.credential, per_route)
                    }
                    // No identity source: API Gateway caches nothing.
                    None => (credential_from_request, true),
                };
            // `GET /pets/{petId}`, or `$default` alone.
            let (route_method, route_path) = match self.route_key.take() {
                Some(Cow::Borrowed(key)) => {
                    let (method, path) = key.split_once(' ').unwrap_or((key, ""));
                    (Some(Cow::Borrowed(method)), Some(Cow::Borrowed(path)))
                }
                Some(Cow::Owned(key)) => {
                    let (method, path) = key.split_once(' ').unwrap_or((&key, ""));
                    (Some(method.to_owned().into()), Some(path.to_owned().into()))
                }
                None => (None, None),
            };
            return Ok(Event {
                kind: EventKind::HttpV2,
                authorization,
                arn: self.route_arn.take().ok_or(Reject::BadEvent)?,
                route_method,
                route_path,
                cached_per_route,
                possession: Possession {
                    dpop: self.dpop.take(),
                    method: context_method,
                    domain,
                    path: self.raw_path.take(),
                    client_cert_pem: http_client_cert_pem,
                },
            });
        }
        let (kind, authorization, route_method, route_path, possession) = match self.kind.as_deref()
        {
            // One header, no request: a TOKEN event can never carry a proof.
            Some("TOKEN") => (
                EventKind::Token,
                self.authorization_token.take(),
                None,
                None,
                Possession::default(),
            ),
            Some("REQUEST") => (
                EventKind::Request,
                credential_from_request,
                self.http_method.clone(),
                self.resource.take(),
                Possession {
                    dpop: self.dpop.take(),
                    method: self.http_method.take(),
                    domain,
                    path: context_path,
                    client_cert_pem,
                },
            ),
            _ => return Err(Reject::BadEvent),
        };
        Ok(Event {
            kind,
            authorization,
            arn: self.method_arn.take().ok_or(Reject::BadEvent)?,
            route_method,
            route_path,
            cached_per_route: false,
            possession,
        })
    }
}

#[cfg(test)]
mod tests;
