//! The three authorizer events API Gateway sends, read without copying: only the token and the
//! ARN are kept, every other field is skipped.

use crate::json::{CowStr, cow};
use crate::reject::Reject;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Which kind of authorizer event arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// REST API `TOKEN` authorizer: `authorizationToken` and `methodArn`.
    Token,
    /// REST API `REQUEST` authorizer: the `Authorization` header and `methodArn`.
    Request,
    /// HTTP API payload 2.0: `headers.authorization` (or `identitySource`) and `routeArn`.
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
    /// The `Authorization` value (`Bearer ...`), if one was sent.
    pub authorization: Option<Cow<'a, str>>,
    /// `methodArn` (REST) or `routeArn` (HTTP API).
    pub arn: Cow<'a, str>,
}

/// Parses an authorizer event.
///
/// # Errors
/// [`Reject::BadEvent`] for anything that is not one of the three event shapes, has no ARN, or
/// carries two `Authorization` headers differing only in case.
pub fn parse(json: &[u8]) -> Result<Event<'_>, Reject> {
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
        #[serde(borrow)]
        headers: Option<AuthorizationHeader<'a>>,
        #[serde(borrow)]
        identity_source: Option<FirstIdentity<'a>>,
    }
    let raw: RawEvent<'_> = serde_json::from_slice(json).map_err(|_| Reject::BadEvent)?;
    let header = raw.headers.and_then(|h| h.0);
    let (kind, authorization, arn) = if cow(raw.version).as_deref() == Some("2.0") {
        let identity = raw.identity_source.and_then(|i| i.0);
        (EventKind::HttpV2, header.or(identity), raw.route_arn)
    } else {
        match cow(raw.kind).as_deref() {
            Some("TOKEN") => (
                EventKind::Token,
                cow(raw.authorization_token),
                raw.method_arn,
            ),
            Some("REQUEST") => (EventKind::Request, header, raw.method_arn),
            _ => return Err(Reject::BadEvent),
        }
    };
    Ok(Event {
        kind,
        authorization,
        arn: arn.ok_or(Reject::BadEvent)?.0,
    })
}

/// The one `Authorization` header of a `headers` map, found case-insensitively. `null` headers
/// (API Gateway sends them for requests without any) count as none.
struct AuthorizationHeader<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for AuthorizationHeader<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = AuthorizationHeader<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of headers")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AuthorizationHeader(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(name) = map.next_key::<CowStr<'de>>()? {
                    if name.0.eq_ignore_ascii_case("authorization") {
                        if found.is_some() {
                            return Err(de::Error::custom("two Authorization headers"));
                        }
                        found = Some(map.next_value::<CowStr<'de>>()?.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(AuthorizationHeader(found))
            }
        }
        deserializer.deserialize_any(HeadersVisitor)
    }
}

/// HTTP API's `identitySource`: an array whose first value is the `Authorization` header.
struct FirstIdentity<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstIdentity<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdentityVisitor;
        impl<'de> Visitor<'de> for IdentityVisitor {
            type Value = FirstIdentity<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of identity values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(FirstIdentity(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<CowStr<'de>>()?.map(|s| s.0);
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstIdentity(first))
            }
        }
        deserializer.deserialize_any(IdentityVisitor)
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

    #[test]
    fn http_api_falls_back_to_the_identity_source() {
        let event = br#"{"version":"2.0","type":"REQUEST","routeArn":"arn","identitySource":["Bearer t","x"],"headers":{"host":"h"}}"#;
        assert_eq!(
            parse(event).unwrap().authorization.as_deref(),
            Some("Bearer t")
        );
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
}
