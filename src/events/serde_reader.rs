//! The reference reader of events: serde_json, in two passes. It defines what an event is, and
//! reads everything the fast scanner (`scan`) leaves to it.

use super::{Context, DPOP_HEADER, Fields, IdentityValues, Names, scan::is_named};
use crate::json::{CowStr, cow};
use crate::report::Reject;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

impl<'a> Fields<'a> {
    /// Reads the fields with serde_json: the reference for what an event is, and the path for
    /// everything [`scan`] leaves to it.
    pub(super) fn with_serde(json: &'a [u8], names: &Names<'_>) -> Result<Self, Reject> {
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
