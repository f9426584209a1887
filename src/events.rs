//! The three authorizer events API Gateway sends, read without copying: the credential, the ARN,
//! the route template and the identity source values are kept, and what a sender-constrained
//! token is checked against (the `DPoP` header, the request's method, domain and path, the client
//! certificate); every other field is skipped.

use crate::identity::{IdentitySource, Source};
use crate::json::{CowStr, Scanner, cow};
use crate::reject::Reject;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Which kind of authorizer event arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// REST API `TOKEN` authorizer: `authorizationToken` and `methodArn`.
    Token,
    /// REST API `REQUEST` authorizer: the credential's header (or query parameter) and `methodArn`.
    Request,
    /// HTTP API payload 2.0: the credential among `identitySource`, and `routeArn`.
    HttpV2,
}

impl EventKind {
    /// A label for logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Token => "token",
            EventKind::Request => "request",
            EventKind::HttpV2 => "http_v2",
        }
    }
}

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
    /// The client certificate of a mutual TLS API (REST), PEM:
    /// `requestContext.identity.clientCert.clientCertPem`.
    pub client_cert_pem: Option<Cow<'a, str>>,
}

/// The name of the DPoP proof header (RFC 9449 §4.1).
const DPOP_HEADER: &str = "DPoP";

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
    let fields = match scan(json, &names) {
        Some(fields) => fields,
        None => Fields::with_serde(json, &names)?,
    };
    fields.into_event(identity)
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
    /// Reads the fields with serde_json: the reference for what an event is, and the path for
    /// everything [`scan`] leaves to it.
    fn with_serde(json: &'a [u8], names: &Names<'_>) -> Result<Self, Reject> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct RawEvent<'a> {
            #[serde(rename = "type", borrow)]
            kind: Option<CowStr<'a>>,
            #[serde(borrow)]
            version: Option<CowStr<'a>>,
            #[serde(borrow)]
            authorization_token: Option<CowStr<'a>>,
            #[serde(borrow)]
            method_arn: Option<CowStr<'a>>,
            #[serde(borrow)]
            route_arn: Option<CowStr<'a>>,
            // Read in a second pass, by name (see `CredentialMembers`).
            #[serde(rename = "headers")]
            _headers: Option<IgnoredAny>,
            #[serde(rename = "queryStringParameters")]
            _query_string_parameters: Option<IgnoredAny>,
            #[serde(borrow)]
            identity_source: Option<Vec<CowStr<'a>>>,
            #[serde(borrow)]
            route_key: Option<CowStr<'a>>,
            #[serde(borrow)]
            resource: Option<CowStr<'a>>,
            #[serde(borrow)]
            http_method: Option<CowStr<'a>>,
            #[serde(borrow)]
            raw_path: Option<CowStr<'a>>,
            #[serde(borrow)]
            request_context: Option<Context<'a>>,
        }
        let raw: RawEvent<'_> = serde_json::from_slice(json).map_err(|_| Reject::BadEvent)?;
        let mut de = serde_json::Deserializer::from_slice(json);
        let ([header, dpop], [query, _]) = CredentialMembers { names }
            .deserialize(&mut de)
            .map_err(|_| Reject::BadEvent)?;
        Ok(Fields {
            kind: cow(raw.kind),
            version: cow(raw.version),
            authorization_token: cow(raw.authorization_token),
            method_arn: cow(raw.method_arn),
            route_arn: cow(raw.route_arn),
            header,
            query,
            identity: raw.identity_source.map(|values| {
                let mut identity = IdentityValues::default();
                for (index, CowStr(value)) in values.into_iter().enumerate() {
                    identity.take(index, value, names);
                }
                identity
            }),
            route_key: cow(raw.route_key),
            resource: cow(raw.resource),
            http_method: cow(raw.http_method),
            dpop,
            raw_path: cow(raw.raw_path),
            context: raw.request_context,
        })
    }

    fn into_event(self, identity: &IdentitySource) -> Result<Event<'a>, Reject> {
        let context = self.context.unwrap_or_default();
        let (domain, context_path) = (context.domain_name, context.path);
        let context_method = context.http.and_then(|http| http.method);
        let client_cert_pem = context
            .identity
            .and_then(|identity| identity.client_cert)
            .and_then(|cert| cert.client_cert_pem);
        let credential_from_request = match identity.credential() {
            Source::Query(_) => self.query,
            _ => self.header,
        };
        let event = if self.version.as_deref() == Some("2.0") {
            let (authorization, cached_per_route) = match self.identity.filter(|i| i.count > 0) {
                // API Gateway caches the answer under these values: the credential verified must
                // be among them, and a promised route key must be there.
                Some(values) => {
                    if values.count != identity.sources().len() {
                        return Err(Reject::UnsafeCacheKey);
                    }
                    let per_route = match values.route_key {
                        Some(value) if value == self.route_key.as_deref().unwrap_or_default() => {
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
            let (route_method, route_path) = match self.route_key {
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
            Event {
                kind: EventKind::HttpV2,
                authorization,
                arn: self.route_arn.ok_or(Reject::BadEvent)?,
                route_method,
                route_path,
                cached_per_route,
                // HTTP API mutual TLS passes the certificate elsewhere
                // (`authentication.clientCert`); certificate-bound tokens are checked on REST.
                possession: Possession {
                    dpop: self.dpop,
                    method: context_method,
                    domain,
                    path: self.raw_path,
                    client_cert_pem: None,
                },
            }
        } else {
            let (kind, authorization, route_method, route_path, possession) =
                match self.kind.as_deref() {
                    // One header, no request: a TOKEN event can never carry a proof.
                    Some("TOKEN") => (
                        EventKind::Token,
                        self.authorization_token,
                        None,
                        None,
                        Possession::default(),
                    ),
                    Some("REQUEST") => (
                        EventKind::Request,
                        credential_from_request,
                        self.http_method.clone(),
                        self.resource,
                        Possession {
                            dpop: self.dpop,
                            method: self.http_method,
                            domain,
                            path: context_path,
                            client_cert_pem,
                        },
                    ),
                    _ => return Err(Reject::BadEvent),
                };
            Event {
                kind,
                authorization,
                arn: self.method_arn.ok_or(Reject::BadEvent)?,
                route_method,
                route_path,
                cached_per_route: false,
                possession,
            }
        };
        Ok(event)
    }
}

/// The fast path: reads the events API Gateway actually sends with a [`Scanner`], or gives up
/// with `None` and leaves the event to [`Fields::with_serde`].
fn scan<'a>(json: &'a [u8], names: &Names<'_>) -> Option<Fields<'a>> {
    let mut scanner = Scanner::new(json);
    let mut fields = Fields::default();
    let mut seen = 0u16;
    if !scanner.open(b'{')? {
        loop {
            let key = scanner.key()?;
            let bit = match key {
                "type" => 1,
                "version" => 2,
                "authorizationToken" => 4,
                "methodArn" => 8,
                "routeArn" => 16,
                "headers" => 32,
                "identitySource" => 64,
                "queryStringParameters" => 128,
                "routeKey" => 256,
                "resource" => 512,
                "httpMethod" => 1024,
                "rawPath" => 2048,
                "requestContext" => 4096,
                _ => 0,
            };
            if bit == 0 {
                scanner.skip_value()?;
            } else {
                if seen & bit != 0 {
                    return None; // serde_json: "duplicate field"
                }
                seen |= bit;
                if scanner.peek()? == b'n' {
                    scanner.null()?;
                } else {
                    match key {
                        "headers" => {
                            [fields.header, fields.dpop] = members_named(
                                &mut scanner,
                                [names.header, Some(DPOP_HEADER)],
                                true,
                            )?;
                        }
                        "queryStringParameters" => {
                            [fields.query, _] =
                                members_named(&mut scanner, [names.query, None], false)?;
                        }
                        "requestContext" => {
                            fields.context = Some(request_context(&mut scanner)?);
                        }
                        "identitySource" => {
                            fields.identity = Some(identity_values(&mut scanner, names)?);
                        }
                        _ => {
                            let value = Some(Cow::Borrowed(scanner.string()?));
                            *match key {
                                "type" => &mut fields.kind,
                                "version" => &mut fields.version,
                                "authorizationToken" => &mut fields.authorization_token,
                                "methodArn" => &mut fields.method_arn,
                                "routeArn" => &mut fields.route_arn,
                                "routeKey" => &mut fields.route_key,
                                "resource" => &mut fields.resource,
                                "rawPath" => &mut fields.raw_path,
                                _ => &mut fields.http_method,
                            } = value;
                        }
                    }
                }
            }
            if scanner.comma_or_end(b'}')? {
                break;
            }
        }
    }
    // Nothing but whitespace may follow.
    scanner.at_end().then_some(fields)
}

/// The string members `names` of an object (`headers`, `queryStringParameters`), found without
/// case when `any_case`; `None` names no member, and the object's other values are skipped.
fn members_named<'a>(
    scanner: &mut Scanner<'a>,
    names: [Option<&str>; 2],
    any_case: bool,
) -> Option<[Option<Cow<'a, str>>; 2]> {
    let mut found = [None, None];
    if scanner.open(b'{')? {
        return Some(found);
    }
    loop {
        let key = scanner.key()?;
        match names.iter().position(|name| is_named(key, *name, any_case)) {
            Some(index) => {
                if found[index].is_some() {
                    return None; // the same member twice: serde_json's path refuses the event
                }
                found[index] = Some(Cow::Borrowed(scanner.string()?));
            }
            None => scanner.skip_value()?,
        }
        if scanner.comma_or_end(b'}')? {
            return Some(found);
        }
    }
}

/// Whether the member `key` is the one `name` names.
fn is_named(key: &str, name: Option<&str>, any_case: bool) -> bool {
    name.is_some_and(|name| {
        if any_case {
            key.eq_ignore_ascii_case(name)
        } else {
            key == name
        }
    })
}

/// Reads `requestContext`: `domainName`, `path`, `http.method` and
/// `identity.clientCert.clientCertPem`, each object member once (as serde's derive insists).
fn request_context<'a>(scanner: &mut Scanner<'a>) -> Option<Context<'a>> {
    let mut context = Context::default();
    let mut seen = 0u8;
    object_members(scanner, |scanner, key| {
        let bit = match key {
            "domainName" => 1,
            "path" => 2,
            "http" => 4,
            "identity" => 8,
            _ => return scanner.skip_value(),
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match key {
            "domainName" => context.domain_name = optional_string(scanner)?,
            "path" => context.path = optional_string(scanner)?,
            "http" => {
                context.http = optional_object(scanner, |scanner| {
                    let mut http = ContextHttp::default();
                    let mut seen = false;
                    object_members(scanner, |scanner, key| {
                        if key != "method" {
                            return scanner.skip_value();
                        }
                        if std::mem::replace(&mut seen, true) {
                            return None;
                        }
                        http.method = optional_string(scanner)?;
                        Some(())
                    })?;
                    Some(http)
                })?
            }
            _ => {
                context.identity = optional_object(scanner, |scanner| {
                    let mut identity = ContextIdentity::default();
                    let mut seen = false;
                    object_members(scanner, |scanner, key| {
                        if key != "clientCert" {
                            return scanner.skip_value();
                        }
                        if std::mem::replace(&mut seen, true) {
                            return None;
                        }
                        identity.client_cert = optional_object(scanner, |scanner| {
                            let mut cert = ClientCert::default();
                            let mut seen = false;
                            object_members(scanner, |scanner, key| {
                                if key != "clientCertPem" {
                                    return scanner.skip_value();
                                }
                                if std::mem::replace(&mut seen, true) {
                                    return None;
                                }
                                cert.client_cert_pem = optional_string(scanner)?;
                                Some(())
                            })?;
                            Some(cert)
                        })?;
                        Some(())
                    })?;
                    Some(identity)
                })?
            }
        }
        Some(())
    })?;
    Some(context)
}

/// Calls `member` with each key of an object, the scanner at its value.
fn object_members<'a>(
    scanner: &mut Scanner<'a>,
    mut member: impl FnMut(&mut Scanner<'a>, &'a str) -> Option<()>,
) -> Option<()> {
    if scanner.open(b'{')? {
        return Some(());
    }
    loop {
        let key = scanner.key()?;
        member(scanner, key)?;
        if scanner.comma_or_end(b'}')? {
            return Some(());
        }
    }
}

/// A string, or `null`.
fn optional_string<'a>(scanner: &mut Scanner<'a>) -> Option<Option<Cow<'a, str>>> {
    if scanner.peek()? == b'n' {
        scanner.null()?;
        Some(None)
    } else {
        Some(Some(Cow::Borrowed(scanner.string()?)))
    }
}

/// An object read by `read`, or `null`.
fn optional_object<'a, T>(
    scanner: &mut Scanner<'a>,
    read: impl FnOnce(&mut Scanner<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if scanner.peek()? == b'n' {
        scanner.null()?;
        Some(None)
    } else {
        read(scanner).map(Some)
    }
}

/// The values of an `identitySource` array (strings) that the authorizer reads.
fn identity_values<'a>(scanner: &mut Scanner<'a>, names: &Names<'_>) -> Option<IdentityValues<'a>> {
    let mut identity = IdentityValues::default();
    if scanner.open(b'[')? {
        return Some(identity);
    }
    for index in 0.. {
        identity.take(index, Cow::Borrowed(scanner.string()?), names);
        if scanner.comma_or_end(b']')? {
            break;
        }
    }
    Some(identity)
}

/// The serde_json path's second pass over an event: the credential's members of `headers` and
/// `queryStringParameters`, found by name. Every other value is skipped unread, as the scanner
/// skips it; the first pass has checked the event's shape.
struct CredentialMembers<'n> {
    names: &'n Names<'n>,
}

/// The credential's header and the `DPoP` header; the credential's query parameter.
type Credentials<'a> = ([Option<Cow<'a, str>>; 2], [Option<Cow<'a, str>>; 2]);

impl<'de> DeserializeSeed<'de> for CredentialMembers<'_> {
    type Value = Credentials<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CredentialMembers<'_> {
    type Value = Credentials<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut headers, mut query) = ([None, None], [None, None]);
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            match key.as_ref() {
                "headers" => {
                    headers = map.next_value_seed(Members {
                        names: [self.names.header, Some(DPOP_HEADER)],
                        any_case: true,
                    })?;
                }
                "queryStringParameters" => {
                    query = map.next_value_seed(Members {
                        names: [self.names.query, None],
                        any_case: false,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((headers, query))
    }
}

/// The string members `names` of an object (without case when `any_case`), or of `null`; the
/// same member twice is an error. `None` names no member.
struct Members<'n> {
    names: [Option<&'n str>; 2],
    any_case: bool,
}

impl<'de> DeserializeSeed<'de> for Members<'_> {
    type Value = [Option<Cow<'de, str>>; 2];

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Members<'_> {
    type Value = [Option<Cow<'de, str>>; 2];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok([None, None])
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None, None];
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            match self
                .names
                .iter()
                .position(|name| is_named(&key, *name, self.any_case))
            {
                Some(index) => {
                    if found[index].is_some() {
                        return Err(de::Error::custom("a member twice"));
                    }
                    found[index] = Some(map.next_value::<CowStr<'de>>()?.0);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_EVENT: &[u8] = include_bytes!("../events/token.json");
    const REQUEST_EVENT: &[u8] = include_bytes!("../events/request.json");
    const HTTP_V2_EVENT: &[u8] = include_bytes!("../events/http-api-v2.json");

    #[test]
    fn reads_the_sample_events_without_copying() {
        let token = parse(TOKEN_EVENT).unwrap();
        assert_eq!(token.kind, EventKind::Token);
        assert!(
            matches!(token.authorization, Some(Cow::Borrowed(t)) if t.starts_with("Bearer ey"))
        );
        assert!(matches!(token.arn, Cow::Borrowed(a) if a.ends_with("/GET/pets")));

        let request = parse(REQUEST_EVENT).unwrap();
        assert_eq!(request.kind, EventKind::Request);
        assert!(request.authorization.unwrap().starts_with("Bearer ey"));

        let v2 = parse(HTTP_V2_EVENT).unwrap();
        assert_eq!(v2.kind, EventKind::HttpV2);
        assert!(v2.authorization.unwrap().starts_with("Bearer ey"));
        assert!(v2.arn.contains("$default"));
    }

    #[test]
    fn the_request_is_read_for_sender_constrained_tokens() {
        let request = parse(REQUEST_EVENT).unwrap().possession;
        assert_eq!(request.method.as_deref(), Some("GET"));
        assert_eq!(request.path.as_deref(), Some("/prod/pets/1"));
        assert_eq!(
            request.domain.as_deref(),
            Some("abcdef123.execute-api.us-east-1.amazonaws.com")
        );
        assert_eq!((request.dpop, request.client_cert_pem), (None, None));
        let v2 = parse(HTTP_V2_EVENT).unwrap().possession;
        assert_eq!(
            (v2.method.as_deref(), v2.path.as_deref()),
            (Some("GET"), Some("/pets"))
        );
        assert_eq!(
            parse(TOKEN_EVENT).unwrap().possession,
            Possession::default()
        );

        let event = br#"{"type":"REQUEST","methodArn":"a","httpMethod":"POST","headers":{"dpop":"p.r.f","Authorization":"DPoP t"},"requestContext":{"domainName":"api.example.com","path":"/v1/pets","identity":{"sourceIp":"1","clientCert":{"clientCertPem":"PEM","validity":{}}}}}"#;
        let names = default_names();
        let fields = scan(event, &names).expect("the scanner reads it");
        assert_eq!(Ok(&fields), Fields::with_serde(event, &names).as_ref());
        let possession = fields
            .into_event(&IdentitySource::default())
            .unwrap()
            .possession;
        assert_eq!(possession.dpop.as_deref(), Some("p.r.f"));
        assert_eq!(possession.method.as_deref(), Some("POST"));
        assert_eq!(possession.domain.as_deref(), Some("api.example.com"));
        assert_eq!(possession.path.as_deref(), Some("/v1/pets"));
        assert_eq!(possession.client_cert_pem.as_deref(), Some("PEM"));
        // Two `DPoP` headers (in two cases) are refused, as two credentials are.
        let twice = br#"{"type":"REQUEST","methodArn":"a","headers":{"DPoP":"a","dpop":"b"}}"#;
        assert_eq!(parse(twice), Err(Reject::BadEvent));
    }

    #[test]
    fn request_headers_are_matched_case_insensitively() {
        let event = br#"{"type":"REQUEST","methodArn":"arn","headers":{"Host":"x","AUTHORIZATION":"Bearer t"}}"#;
        assert_eq!(
            parse(event).unwrap().authorization.as_deref(),
            Some("Bearer t")
        );
        let twice = br#"{"type":"REQUEST","methodArn":"arn","headers":{"authorization":"a","Authorization":"b"}}"#;
        assert_eq!(parse(twice), Err(Reject::BadEvent));
        let none = br#"{"type":"REQUEST","methodArn":"arn","headers":null}"#;
        assert_eq!(parse(none).unwrap().authorization, None);
    }

    /// The default identity source, and `Authorization` plus the route key.
    fn default_names() -> Names<'static> {
        Names {
            header: Some("Authorization"),
            query: None,
            credential: 0,
            route_key: None,
        }
    }

    fn identity(value: &str) -> IdentitySource {
        IdentitySource::parse(value).unwrap()
    }

    #[test]
    fn http_api_verifies_the_credential_that_api_gateway_caches_on() {
        // The cache key is `X-Token`: a different `Authorization` header must not be what is verified.
        let event = br#"{"version":"2.0","type":"REQUEST","routeArn":"arn","routeKey":"GET /pets","identitySource":["Bearer cached"],"headers":{"authorization":"Bearer other","x-token":"Bearer cached"}}"#;
        let x_token = identity("$request.header.X-Token");
        assert_eq!(
            parse_with(event, &x_token)
                .unwrap()
                .authorization
                .as_deref(),
            Some("Bearer cached")
        );
        assert_eq!(
            parse(event).unwrap().authorization.as_deref(),
            Some("Bearer cached")
        );
        // Without identity source values (no cache), the configured header is read.
        let uncached = br#"{"version":"2.0","routeArn":"arn","headers":{"x-token":"Bearer t","authorization":"Bearer a"}}"#;
        let event = parse_with(uncached, &x_token).unwrap();
        assert_eq!(
            (event.authorization.as_deref(), event.cached_per_route),
            (Some("Bearer t"), true)
        );
    }

    #[test]
    fn http_api_identity_values_must_match_the_configured_identity_source() {
        let with_route = identity("$request.header.Authorization,$context.routeKey");
        let event = br#"{"version":"2.0","routeArn":"arn","routeKey":"GET /pets/{petId}","identitySource":["Bearer t","GET /pets/{petId}"]}"#;
        let parsed = parse_with(event, &with_route).unwrap();
        assert_eq!(parsed.authorization.as_deref(), Some("Bearer t"));
        assert!(parsed.cached_per_route);
        assert_eq!(parsed.route(), Some(("GET", "/pets/{petId}")));
        // Two values where one is configured, or a route value that is not the route key.
        assert_eq!(parse(event), Err(Reject::UnsafeCacheKey));
        let spoofed = br#"{"version":"2.0","routeArn":"arn","routeKey":"POST /pets","identitySource":["Bearer t","GET /pets"]}"#;
        assert_eq!(
            parse_with(spoofed, &with_route),
            Err(Reject::UnsafeCacheKey)
        );
        // The token alone: cached for every route.
        let token_only = br#"{"version":"2.0","routeArn":"arn","routeKey":"$default","identitySource":["Bearer t"]}"#;
        let parsed = parse(token_only).unwrap();
        assert!(!parsed.cached_per_route);
        assert_eq!(parsed.route(), Some(("$default", "")));
    }

    #[test]
    fn request_events_name_their_route_template_and_credential() {
        let request = parse(REQUEST_EVENT).unwrap();
        assert_eq!(request.route(), Some(("GET", "/pets/{petId}")));
        let event = br#"{"type":"REQUEST","methodArn":"arn","httpMethod":"GET","resource":"/{proxy+}","headers":{"Authorization":"Bearer h"},"queryStringParameters":{"Token":"x","token":"Bearer q"}}"#;
        let query = identity("method.request.querystring.token");
        assert_eq!(
            parse_with(event, &query).unwrap().authorization.as_deref(),
            Some("Bearer q")
        );
        assert_eq!(
            parse(event).unwrap().authorization.as_deref(),
            Some("Bearer h")
        );
        assert_eq!(parse(TOKEN_EVENT).unwrap().route(), None);
    }

    #[test]
    fn other_shapes_are_bad_events() {
        for event in [
            &b""[..],
            b"[]",
            b"{}",
            br#"{"type":"TOKEN","authorizationToken":"Bearer t"}"#,
            br#"{"type":"COOKIE","methodArn":"arn"}"#,
            br#"{"type":"TOKEN","methodArn":7}"#,
            br#"{"version":"2.0","methodArn":"arn"}"#,
        ] {
            assert_eq!(
                parse(event),
                Err(Reject::BadEvent),
                "{}",
                String::from_utf8_lossy(event)
            );
        }
        let no_token = parse(br#"{"type":"TOKEN","methodArn":"arn"}"#).unwrap();
        assert_eq!(no_token.authorization, None);
    }

    #[test]
    fn the_sample_events_take_the_fast_path() {
        for event in [TOKEN_EVENT, REQUEST_EVENT, HTTP_V2_EVENT] {
            let names = default_names();
            let fields = scan(event, &names).expect("the scanner reads it");
            assert_eq!(Ok(&fields), Fields::with_serde(event, &names).as_ref());
        }
    }

    #[test]
    fn the_scanner_leaves_what_it_is_unsure_of_to_serde_json() {
        for event in [
            &br#"{"type":"TOKEN","type":"TOKEN","methodArn":"a"}"#[..],
            br#"{"type":"TOK\u0045N","methodArn":"a"}"#,
            br#"{"typ\u0065":"TOKEN","methodArn":"a"}"#,
            br#"{"type":"REQUEST","methodArn":"a","headers":{"authorization":"a","Authorization":"b"}}"#,
            br#"{"type":"REQUEST","methodArn":"a","headers":{"authorization":null}}"#,
            br#"{"type":"REQUEST","methodArn":"a","headers":[]}"#,
            br#"{"version":"2.0","routeArn":"a","identitySource":[null]}"#,
            br#"{"type":"TOKEN","methodArn":"a","x":01}"#,
            br#"{"type":"TOKEN","methodArn":"a","x":[1,]}"#,
            br#"{"type":"TOKEN","methodArn":"a"} x"#,
            br#"["TOKEN",null,"Bearer t","a",null,null,null]"#,
            b"{\"type\":\"TOKEN\",\"methodArn\":\"a\tb\"}",
        ] {
            assert_eq!(
                scan(event, &default_names()),
                None,
                "{}",
                String::from_utf8_lossy(event)
            );
        }
        // ...which reads some of them after all.
        let escaped = parse(br#"{"type":"TOK\u0045N","methodArn":"a\/b"}"#).unwrap();
        assert_eq!(
            (escaped.kind, escaped.arn.as_ref()),
            (EventKind::Token, "a/b")
        );
        // serde reads a struct from an array too; an event is an object.
        let array =
            br#"["TOKEN",null,"Bearer t","a",null,null,null,null,null,null,null,null,null]"#;
        assert_eq!(parse(array), Err(Reject::BadEvent));
    }

    #[test]
    fn ignored_values_of_every_kind_are_skipped() {
        let event = r#" { "x" : [ {}, [], [[ ]], {"a":{"b":[1,-2.5e+3,0,true,false,null]}}, "s\"\\\/\b\f\n\r\t\u00e9", "é" ] ,
            "type":"TOKEN", "y":{ }, "methodArn" : "a" , "z":-0.0E1 } "#
            .as_bytes();
        let names = default_names();
        let fields = scan(event, &names).expect("the scanner reads it");
        assert_eq!(fields.kind.as_deref(), Some("TOKEN"));
        assert_eq!(Ok(fields), Fields::with_serde(event, &names));
    }

    mod agree_with_serde_json {
        use super::super::*;
        use super::{HTTP_V2_EVENT, REQUEST_EVENT, TOKEN_EVENT, default_names};
        use crate::json::arbitrary::{damage, object, text, value};
        use proptest::prelude::*;
        use serde_json::Value;

        /// What the scanner says must be what serde_json says.
        fn check(event: &[u8]) -> Result<(), TestCaseError> {
            // The default identity source, and a query parameter with the route key second.
            let query = Names {
                header: None,
                query: Some("token"),
                credential: 0,
                route_key: Some(1),
            };
            for names in [default_names(), query] {
                if let Some(fields) = scan(event, &names) {
                    prop_assert_eq!(
                        Ok(fields),
                        Fields::with_serde(event, &names),
                        "{}",
                        String::from_utf8_lossy(event)
                    );
                }
            }
            Ok(())
        }

        /// Strings and names an event has.
        const COMMON: &[&str] = &[
            "TOKEN",
            "REQUEST",
            "2.0",
            "Bearer a.b.c",
            "type",
            "version",
            "authorizationToken",
            "methodArn",
            "routeArn",
            "headers",
            "identitySource",
            "queryStringParameters",
            "routeKey",
            "resource",
            "httpMethod",
            "token",
            "GET /pets",
            "Authorization",
            "authorization",
            "AUTHORIZATION",
            "host",
            "DPoP",
            "dpop",
            "rawPath",
            "requestContext",
            "domainName",
            "path",
            "http",
            "method",
            "identity",
            "clientCert",
            "clientCertPem",
        ];

        fn event() -> impl Strategy<Value = String> {
            let (text, value) = (text(COMMON), value(COMMON));
            let headers =
                prop::collection::vec((text.clone(), value.clone()), 0..4).prop_map(|m| object(&m));
            let identity = prop::collection::vec(text.clone(), 0..4).prop_map(Value::from);
            // `requestContext` objects nested as API Gateway nests them, with generated members.
            let leaf = prop_oneof![value.clone(), text.clone().prop_map(Value::from)];
            let cert = prop::collection::vec((text.clone(), leaf.clone()), 0..3).prop_map(|m| {
                let mut o: serde_json::Map<String, Value> = m.into_iter().collect();
                o.insert("clientCertPem".into(), Value::from("PEM"));
                Value::Object(o)
            });
            let context = (
                prop::collection::vec((text.clone(), leaf.clone()), 0..4),
                prop::option::of(leaf.clone()),
                prop::option::of(leaf),
                prop::option::of(cert),
            )
                .prop_map(|(members, method, domain, cert)| {
                    let mut o: serde_json::Map<String, Value> = members.into_iter().collect();
                    if let Some(method) = method {
                        o.insert("http".into(), serde_json::json!({ "method": method }));
                    }
                    if let Some(domain) = domain {
                        o.insert("domainName".into(), domain);
                    }
                    if let Some(cert) = cert {
                        o.insert("identity".into(), serde_json::json!({ "clientCert": cert }));
                    }
                    Value::Object(o)
                });
            let member = prop_oneof![
                context.prop_map(|c| format!(r#""requestContext":{c}"#)),
                (text.clone(), value).prop_map(|(n, v)| format!("{}:{v}", Value::from(n))),
                headers.clone().prop_map(|h| format!(r#""headers":{h}"#)),
                headers.prop_map(|h| format!(r#""queryStringParameters":{h}"#)),
                identity.prop_map(|i| format!(r#""identitySource":{i}"#)),
                (text.clone(), text).prop_map(|(n, v)| format!(
                    "{}:{}",
                    Value::from(n),
                    Value::from(v)
                )),
            ];
            prop::collection::vec(member, 0..8).prop_map(|m| format!("{{{}}}", m.join(",")))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

            #[test]
            fn on_generated_events(event in event()) {
                check(event.as_bytes())?;
            }

            #[test]
            fn on_damaged_events(event in event(), at in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0..3u8) {
                let mut event = event.into_bytes();
                damage(&mut event, at, byte, op);
                check(&event)?;
            }

            #[test]
            fn on_damaged_samples(which in 0..3usize, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
                let mut event = [TOKEN_EVENT, REQUEST_EVENT, HTTP_V2_EVENT][which].to_vec();
                let at = at.index(event.len());
                event[at] = byte;
                check(&event)?;
            }

            #[test]
            fn on_arbitrary_bytes(event in any::<Vec<u8>>()) {
                check(&event)?;
            }
        }
    }
}
