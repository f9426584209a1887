//! The three authorizer events API Gateway sends, read without copying: only the token and the
//! ARN are kept, every other field is skipped.

use crate::json::{CowStr, Scanner, cow};
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
    let fields = match scan(json) {
        Some(fields) => fields,
        None => Fields::with_serde(json)?,
    };
    fields.into_event()
}

/// The fields of an event that the authorizer reads, each `None` when absent or `null`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fields<'a> {
    kind: Option<Cow<'a, str>>,
    version: Option<Cow<'a, str>>,
    authorization_token: Option<Cow<'a, str>>,
    method_arn: Option<Cow<'a, str>>,
    route_arn: Option<Cow<'a, str>>,
    /// The `Authorization` header of `headers`.
    header: Option<Cow<'a, str>>,
    /// The first value of `identitySource`.
    identity: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> {
    /// Reads the fields with serde_json: the reference for what an event is, and the path for
    /// everything [`scan`] leaves to it.
    fn with_serde(json: &'a [u8]) -> Result<Self, Reject> {
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
        Ok(Fields {
            kind: cow(raw.kind),
            version: cow(raw.version),
            authorization_token: cow(raw.authorization_token),
            method_arn: cow(raw.method_arn),
            route_arn: cow(raw.route_arn),
            header: raw.headers.and_then(|h| h.0),
            identity: raw.identity_source.and_then(|i| i.0),
        })
    }

    fn into_event(self) -> Result<Event<'a>, Reject> {
        let (kind, authorization, arn) = if self.version.as_deref() == Some("2.0") {
            (
                EventKind::HttpV2,
                self.header.or(self.identity),
                self.route_arn,
            )
        } else {
            match self.kind.as_deref() {
                Some("TOKEN") => (EventKind::Token, self.authorization_token, self.method_arn),
                Some("REQUEST") => (EventKind::Request, self.header, self.method_arn),
                _ => return Err(Reject::BadEvent),
            }
        };
        Ok(Event {
            kind,
            authorization,
            arn: arn.ok_or(Reject::BadEvent)?,
        })
    }
}

/// The fast path: reads the events API Gateway actually sends with a [`Scanner`], or gives up
/// with `None` and leaves the event to [`Fields::with_serde`].
fn scan(json: &[u8]) -> Option<Fields<'_>> {
    let mut scanner = Scanner::new(json);
    let mut fields = Fields::default();
    let mut seen = 0u8;
    if !scanner.open(b'{')? {
        loop {
            let (bit, slot) = match scanner.key()? {
                "type" => (1, &mut fields.kind),
                "version" => (2, &mut fields.version),
                "authorizationToken" => (4, &mut fields.authorization_token),
                "methodArn" => (8, &mut fields.method_arn),
                "routeArn" => (16, &mut fields.route_arn),
                "headers" => (32, &mut fields.header),
                "identitySource" => (64, &mut fields.identity),
                _ => {
                    scanner.skip_value()?;
                    if scanner.comma_or_end(b'}')? {
                        break;
                    }
                    continue;
                }
            };
            if seen & bit != 0 {
                return None; // serde_json: "duplicate field"
            }
            seen |= bit;
            *slot = match (bit, scanner.peek()?) {
                (_, b'n') => {
                    scanner.null()?;
                    None
                }
                (32, b'{') => authorization_header(&mut scanner)?,
                (64, b'[') => first_identity(&mut scanner)?,
                (32 | 64, _) => return None,
                (_, b'"') => Some(Cow::Borrowed(scanner.string()?)),
                _ => return None,
            };
            if scanner.comma_or_end(b'}')? {
                break;
            }
        }
    }
    // Nothing but whitespace may follow.
    scanner.at_end().then_some(fields)
}

/// The `Authorization` header of a `headers` object, found case-insensitively.
fn authorization_header<'a>(scanner: &mut Scanner<'a>) -> Option<Option<Cow<'a, str>>> {
    let mut found = None;
    if scanner.open(b'{')? {
        return Some(None);
    }
    loop {
        if scanner.key()?.eq_ignore_ascii_case("authorization") {
            if found.is_some() {
                return None; // two Authorization headers: serde_json's path refuses the event
            }
            found = Some(Cow::Borrowed(scanner.string()?));
        } else {
            scanner.skip_value()?;
        }
        if scanner.comma_or_end(b'}')? {
            return Some(found);
        }
    }
}

/// The first value of an `identitySource` array, which must be a string.
fn first_identity<'a>(scanner: &mut Scanner<'a>) -> Option<Option<Cow<'a, str>>> {
    if scanner.open(b'[')? {
        return Some(None);
    }
    let first = scanner.string()?;
    while !scanner.comma_or_end(b']')? {
        scanner.skip_value()?;
    }
    Some(Some(Cow::Borrowed(first)))
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

    #[test]
    fn the_sample_events_take_the_fast_path() {
        for event in [TOKEN_EVENT, REQUEST_EVENT, HTTP_V2_EVENT] {
            let fields = scan(event).expect("the scanner reads it");
            assert_eq!(Ok(&fields), Fields::with_serde(event).as_ref());
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
            assert_eq!(scan(event), None, "{}", String::from_utf8_lossy(event));
        }
        // ...which reads some of them after all.
        let escaped = parse(br#"{"type":"TOK\u0045N","methodArn":"a\/b"}"#).unwrap();
        assert_eq!(
            (escaped.kind, escaped.arn.as_ref()),
            (EventKind::Token, "a/b")
        );
        let array = parse(br#"["TOKEN",null,"Bearer t","a",null,null,null]"#).unwrap();
        assert_eq!(array.authorization.as_deref(), Some("Bearer t"));
    }

    #[test]
    fn ignored_values_of_every_kind_are_skipped() {
        let event = r#" { "x" : [ {}, [], [[ ]], {"a":{"b":[1,-2.5e+3,0,true,false,null]}}, "s\"\\\/\b\f\n\r\t\u00e9", "é" ] ,
            "type":"TOKEN", "y":{ }, "methodArn" : "a" , "z":-0.0E1 } "#
            .as_bytes();
        let fields = scan(event).expect("the scanner reads it");
        assert_eq!(fields.kind.as_deref(), Some("TOKEN"));
        assert_eq!(Ok(fields), Fields::with_serde(event));
    }

    mod agree_with_serde_json {
        use super::super::*;
        use super::{HTTP_V2_EVENT, REQUEST_EVENT, TOKEN_EVENT};
        use crate::json::arbitrary::{damage, object, text, value};
        use proptest::prelude::*;
        use serde_json::Value;

        /// What the scanner says must be what serde_json says.
        fn check(event: &[u8]) -> Result<(), TestCaseError> {
            if let Some(fields) = scan(event) {
                prop_assert_eq!(
                    Ok(fields),
                    Fields::with_serde(event),
                    "{}",
                    String::from_utf8_lossy(event)
                );
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
            "Authorization",
            "authorization",
            "AUTHORIZATION",
            "host",
        ];

        fn event() -> impl Strategy<Value = String> {
            let (text, value) = (text(COMMON), value(COMMON));
            let headers =
                prop::collection::vec((text.clone(), value.clone()), 0..4).prop_map(|m| object(&m));
            let member = prop_oneof![
                (text.clone(), value).prop_map(|(n, v)| format!("{}:{v}", Value::from(n))),
                headers.prop_map(|h| format!(r#""headers":{h}"#)),
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
