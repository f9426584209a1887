//! The fast reader of events: a [`Scanner`] over the events API Gateway actually sends, borrowing
//! every string. Anything unusual (escapes where it cannot borrow, unexpected types) makes it
//! give up, and the event goes to the serde_json reader, the reference.

use super::{
    ClientCert, Context, ContextHttp, ContextIdentity, DPOP_HEADER, Fields, IdentityValues, Names,
};
use crate::json::Scanner;
use std::borrow::Cow;

/// The fast path: reads the events API Gateway actually sends with a [`Scanner`] into `fields`
/// (all `None`), or gives up with `None` and leaves the event to [`Fields::with_serde`]. Filled in
/// place: the fields are half a kilobyte, which returning them would copy.
pub(super) fn scan<'a>(json: &'a [u8], names: &Names<'_>, fields: &mut Fields<'a>) -> Option<()> {
    let mut scanner = Scanner::new(json);
    let mut seen = 0u16;
    if !scanner.open(b'{')? {
        loop {
            match Member::named(scanner.key()?) {
                None => scanner.skip_value()?,
                Some(member) => {
                    let bit = 1 << member as u16;
                    if seen & bit != 0 {
                        return None; // serde_json: "duplicate field"
                    }
                    seen |= bit;
                    if scanner.peek()? == b'n' {
                        scanner.null()?;
                    } else {
                        member.read(&mut scanner, names, fields)?;
                    }
                }
            }
            if scanner.comma_or_end(b'}')? {
                break;
            }
        }
    }
    // Nothing but whitespace may follow.
    scanner.at_end().then_some(())
}

/// The members of an event the authorizer reads, each matched by name once.
#[derive(Clone, Copy)]
enum Member {
    Type,
    Version,
    AuthorizationToken,
    MethodArn,
    RouteArn,
    Headers,
    IdentitySource,
    QueryStringParameters,
    RouteKey,
    Resource,
    HttpMethod,
    RawPath,
    RequestContext,
}

// Each member has its bit in `scan`'s `seen`.
const _: () = assert!((Member::RequestContext as u32) < u16::BITS);

impl Member {
    fn named(key: &str) -> Option<Self> {
        Some(match key {
            "type" => Member::Type,
            "version" => Member::Version,
            "authorizationToken" => Member::AuthorizationToken,
            "methodArn" => Member::MethodArn,
            "routeArn" => Member::RouteArn,
            "headers" => Member::Headers,
            "identitySource" => Member::IdentitySource,
            "queryStringParameters" => Member::QueryStringParameters,
            "routeKey" => Member::RouteKey,
            "resource" => Member::Resource,
            "httpMethod" => Member::HttpMethod,
            "rawPath" => Member::RawPath,
            "requestContext" => Member::RequestContext,
            _ => return None,
        })
    }

    /// Reads the member's value (not `null`) into its field.
    fn read<'a>(
        self,
        scanner: &mut Scanner<'a>,
        names: &Names<'_>,
        fields: &mut Fields<'a>,
    ) -> Option<()> {
        let string = match self {
            Member::Headers => {
                [fields.header, fields.dpop] =
                    members_named(scanner, [names.header, Some(DPOP_HEADER)], true)?;
                return Some(());
            }
            Member::QueryStringParameters => {
                [fields.query, _] = members_named(scanner, [names.query, None], false)?;
                return Some(());
            }
            Member::RequestContext => {
                fields.context = Some(request_context(scanner)?);
                return Some(());
            }
            Member::IdentitySource => {
                fields.identity = Some(identity_values(scanner, names)?);
                return Some(());
            }
            Member::Type => &mut fields.kind,
            Member::Version => &mut fields.version,
            Member::AuthorizationToken => &mut fields.authorization_token,
            Member::MethodArn => &mut fields.method_arn,
            Member::RouteArn => &mut fields.route_arn,
            Member::RouteKey => &mut fields.route_key,
            Member::Resource => &mut fields.resource,
            Member::HttpMethod => &mut fields.http_method,
            Member::RawPath => &mut fields.raw_path,
        };
        // The token (hundreds of bytes) and the ARN (about 70) are longer than `string`'s word
        // by word search is worth.
        let long = matches!(
            self,
            Member::AuthorizationToken | Member::MethodArn | Member::RouteArn
        );
        let value = if long {
            scanner.long_string()?
        } else {
            scanner.string()?
        };
        *string = Some(Cow::Borrowed(value));
        Some(())
    }
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
pub(super) fn is_named(key: &str, name: Option<&str>, any_case: bool) -> bool {
    name.is_some_and(|name| {
        if any_case {
            key.eq_ignore_ascii_case(name)
        } else {
            key == name
        }
    })
}

/// Reads `requestContext`: `domainName`, `path`, `http.method`,
/// `identity.clientCert.clientCertPem` (REST) and `authentication.clientCert.clientCertPem`
/// (HTTP API), each object member once (as serde's derive insists).
fn request_context<'a>(scanner: &mut Scanner<'a>) -> Option<Context<'a>> {
    let mut context = Context::default();
    let mut seen = 0u8;
    object_members(scanner, |scanner, key| {
        let bit = match key {
            "domainName" => 1,
            "path" => 2,
            "http" => 4,
            "identity" => 8,
            "authentication" => 16,
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
            "identity" => context.identity = optional_object(scanner, client_cert_holder)?,
            _ => context.authentication = optional_object(scanner, client_cert_holder)?,
        }
        Some(())
    })?;
    Some(context)
}

/// Reads `{"clientCert": {"clientCertPem": ..}}` (REST's `identity`, HTTP API's
/// `authentication`), each member once.
fn client_cert_holder<'a>(scanner: &mut Scanner<'a>) -> Option<ContextIdentity<'a>> {
    let mut holder = ContextIdentity::default();
    let mut seen = false;
    object_members(scanner, |scanner, key| {
        if key != "clientCert" {
            return scanner.skip_value();
        }
        if std::mem::replace(&mut seen, true) {
            return None;
        }
        holder.client_cert = optional_object(scanner, |scanner| {
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
    Some(holder)
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
