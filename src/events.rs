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
    let fields = match Scanner::new(json).event() {
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
    /// everything [`Scanner`] leaves to it.
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

/// The fast path: a scanner for the events API Gateway actually sends, which borrows every string
/// and skips the fields it does not need without building anything.
///
/// Through serde_json an event cost as much as parsing the token's claims: derive-generated field
/// matching, and two passes over every string kept (escape scan, then UTF-8 validation), the
/// 800-byte token included. Here a kept string is one `memchr2` for its end and one branch-free
/// scan the compiler vectorizes.
///
/// The scanner only ever answers for an event serde_json would read the same way. Anything it is
/// not sure of (an escape in a string it keeps, a duplicated field, an unexpected type, a number
/// or literal it does not recognise, nesting deeper than 64, invalid JSON) makes it give up with
/// `None`, and [`Fields::with_serde`] decides. The tests check the two agree on arbitrary input.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// How deep the scanner follows nested values before leaving the event to serde_json.
const MAX_DEPTH: u32 = 64;

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, at: 0 }
    }

    /// The next byte that is not JSON whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `expected` after optional whitespace.
    #[inline]
    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.peek()? == expected).then(|| self.at += 1)
    }

    fn event(mut self) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        let mut seen = 0u8;
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
        } else {
            loop {
                self.eat(b'"')?;
                let name = self.plain_str()?;
                self.eat(b':')?;
                let (bit, slot) = match name {
                    "type" => (1, &mut fields.kind),
                    "version" => (2, &mut fields.version),
                    "authorizationToken" => (4, &mut fields.authorization_token),
                    "methodArn" => (8, &mut fields.method_arn),
                    "routeArn" => (16, &mut fields.route_arn),
                    "headers" => (32, &mut fields.header),
                    "identitySource" => (64, &mut fields.identity),
                    _ => {
                        self.skip_value()?;
                        if self.comma_or_end(b'}')? {
                            break;
                        }
                        continue;
                    }
                };
                if seen & bit != 0 {
                    return None; // serde_json: "duplicate field"
                }
                seen |= bit;
                *slot = match (bit, self.peek()?) {
                    (_, b'n') => {
                        self.literal(b"null")?;
                        None
                    }
                    (32, b'{') => self.authorization_header()?,
                    (64, b'[') => self.first_identity()?,
                    (32 | 64, _) => return None,
                    (_, b'"') => {
                        self.at += 1;
                        Some(Cow::Borrowed(self.plain_str()?))
                    }
                    _ => return None,
                };
                if self.comma_or_end(b'}')? {
                    break;
                }
            }
        }
        // Nothing but whitespace may follow.
        self.peek().is_none().then_some(fields)
    }

    /// After a member or element: `true` at the closing `end`, `false` after a comma.
    #[inline]
    fn comma_or_end(&mut self, end: u8) -> Option<bool> {
        let b = self.peek()?;
        self.at += 1;
        match b {
            b',' => Some(false),
            _ if b == end => Some(true),
            _ => None,
        }
    }

    /// The `Authorization` header of a `headers` object (at its `{`), found case-insensitively.
    fn authorization_header(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.at += 1;
        let mut found = None;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(None);
        }
        loop {
            self.eat(b'"')?;
            let name = self.plain_str()?;
            self.eat(b':')?;
            if name.eq_ignore_ascii_case("authorization") {
                if found.is_some() {
                    return None; // two Authorization headers: serde_json's path refuses the event
                }
                self.eat(b'"')?;
                found = Some(Cow::Borrowed(self.plain_str()?));
            } else {
                self.skip_value()?;
            }
            if self.comma_or_end(b'}')? {
                return Some(found);
            }
        }
    }

    /// The first value of an `identitySource` array (at its `[`), which must be a string.
    fn first_identity(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.at += 1;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(None);
        }
        self.eat(b'"')?;
        let first = self.plain_str()?;
        while !self.comma_or_end(b']')? {
            self.skip_value()?;
        }
        Some(Some(Cow::Borrowed(first)))
    }

    /// The rest of a string (after its opening quote) that has no escape: borrowed, checked to be
    /// UTF-8 without control characters.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a str> {
        let rest = &self.bytes[self.at..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' {
            return None;
        }
        let text = &rest[..len];
        // Printable ASCII (the token, ARNs, names) needs no UTF-8 decoding: one scan without early
        // exit, which the compiler vectorizes. `b + 1` as a signed byte is below 0x21 exactly for
        // the bytes outside 0x20..=0x7e: one compare per byte that SSE2 has (`pcmpgtb`).
        let unusual = text.iter().fold(0u8, |unusual, &b| {
            unusual | u8::from((b.wrapping_add(1) as i8) < 0x21)
        });
        let text = if unusual == 0 {
            // SAFETY: every byte is ASCII.
            unsafe { std::str::from_utf8_unchecked(text) }
        } else {
            let text = std::str::from_utf8(text).ok()?;
            if text.bytes().any(|b| b < 0x20) {
                return None;
            }
            text
        };
        self.at += len + 1;
        Some(text)
    }

    /// Skips the rest of a string (after its opening quote), checking its escapes and that it
    /// has no control characters, as serde_json does for a string it ignores.
    fn skip_str(&mut self) -> Option<()> {
        loop {
            let rest = &self.bytes[self.at..];
            let len = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[..len]
                .iter()
                .fold(false, |control, &b| control | (b < 0x20))
            {
                return None;
            }
            self.at += len + 1;
            if rest[len] == b'"' {
                return Some(());
            }
            match *self.bytes.get(self.at)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                b'u' => {
                    let hex = self.bytes.get(self.at + 1..self.at + 5)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.at += 5;
                }
                _ => return None,
            }
        }
    }

    /// Consumes `word` (`null`, `true`, `false`) at the current position.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// Consumes a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let digits = |scanner: &mut Self| {
            let start = scanner.at;
            while scanner
                .bytes
                .get(scanner.at)
                .is_some_and(u8::is_ascii_digit)
            {
                scanner.at += 1;
            }
            scanner.at - start
        };
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let first = *self.bytes.get(self.at)?;
        let integer = digits(self);
        if integer == 0 || (first == b'0' && integer > 1) {
            return None;
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Skips any JSON value, checking it is well-formed. Containers are followed with a stack of
    /// one bit per level (1: object), up to [`MAX_DEPTH`].
    fn skip_value(&mut self) -> Option<()> {
        let mut objects = 0u64;
        let mut depth = 0u32;
        loop {
            // One value, or the opening of a container.
            let mut opened = None;
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    self.skip_str()?;
                }
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' | b'0'..=b'9' => self.number()?,
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    depth += 1;
                    objects = objects << 1 | u64::from(open == b'{');
                    opened = Some(if open == b'{' { b'}' } else { b']' });
                }
                _ => return None,
            }
            let mut empty = opened.is_some_and(|close| self.peek() == Some(close));
            if opened.is_some() && !empty {
                if objects & 1 == 1 {
                    self.member_name()?;
                }
                continue;
            }
            // Close every container that ends here; stop after a comma, at the next value.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let close = if objects & 1 == 1 { b'}' } else { b']' };
                if empty {
                    empty = false;
                    self.at += 1;
                } else if !self.comma_or_end(close)? {
                    if objects & 1 == 1 {
                        self.member_name()?;
                    }
                    break;
                }
                depth -= 1;
                objects >>= 1;
            }
        }
    }

    /// `"name":` inside an ignored object.
    fn member_name(&mut self) -> Option<()> {
        self.eat(b'"')?;
        self.skip_str()?;
        self.eat(b':')
    }
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
            let fields = Scanner::new(event).event().expect("the scanner reads it");
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
            assert_eq!(Scanner::new(event).event(), None, "{}", String::from_utf8_lossy(event));
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
        let fields = Scanner::new(event).event().expect("the scanner reads it");
        assert_eq!(fields.kind.as_deref(), Some("TOKEN"));
        assert_eq!(Ok(fields), Fields::with_serde(event));
    }

    mod agree_with_serde_json {
        use super::super::*;
        use super::{HTTP_V2_EVENT, REQUEST_EVENT, TOKEN_EVENT};
        use proptest::prelude::*;
        use serde_json::{Value, json};

        /// What the scanner says must be what serde_json says.
        fn check(event: &[u8]) -> Result<(), TestCaseError> {
            if let Some(fields) = Scanner::new(event).event() {
                prop_assert_eq!(
                    Ok(fields),
                    Fields::with_serde(event),
                    "{}",
                    String::from_utf8_lossy(event)
                );
            }
            Ok(())
        }

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("TOKEN".to_owned()),
                Just("REQUEST".to_owned()),
                Just("2.0".to_owned()),
                Just("Bearer a.b.c".to_owned()),
                "[ -~]{0,12}",
                any::<String>(),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| json!(f)),
                text().prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::vec((name(), inner), 0..4)
                        .prop_map(|members| Value::Object(members.into_iter().collect())),
                ]
            })
        }

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
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
                ])
                .prop_map(str::to_owned),
                text(),
            ]
        }

        /// An object written member by member, so names may repeat.
        fn object(members: &[(String, Value)]) -> String {
            let members: Vec<String> = members
                .iter()
                .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
                .collect();
            format!("{{{}}}", members.join(","))
        }

        fn event() -> impl Strategy<Value = String> {
            let headers = prop::collection::vec((name(), value()), 0..4).prop_map(|m| object(&m));
            let member = prop_oneof![
                (name(), value()).prop_map(|(n, v)| format!("{}:{v}", Value::from(n))),
                headers.prop_map(|h| format!(r#""headers":{h}"#)),
                (name(), text()).prop_map(|(n, v)| format!(
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
                let at = at.index(event.len() + 1);
                match op {
                    0 => event.insert(at, byte),
                    1 if at < event.len() => { event.remove(at); }
                    _ if at < event.len() => event[at] = byte,
                    _ => {}
                }
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
