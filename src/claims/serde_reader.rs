//! The reference reader of claims: serde_json, with seeds that read the registered claims into
//! their fields, keep the captured ones raw, and check `aud` while it is read. It defines what a
//! payload is; the scanner (`scan`) answers only where it agrees.

use super::{CAPTURED_BIT0, Claims, Field, IssuerSet, Rules, Seen, issuers_accepting};
use crate::json::CowStr;
use crate::report::Reject;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// Parses a payload with serde_json: the reference for what a claims set is, and the path for
/// everything [`scan::scan`] leaves to it.
pub(super) fn parse_with_serde<'a>(json: &'a str, rules: &Rules) -> Result<Claims<'a>, Reject> {
    let mut de = serde_json::Deserializer::from_str(json);
    ClaimsSeed { rules }
        .deserialize(&mut de)
        .and_then(|claims| de.end().map(|()| claims))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Reject::InvalidClaim,
            _ => Reject::Malformed,
        })
}

struct ClaimsSeed<'r> {
    rules: &'r Rules,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Claims<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = Claims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut claims = Claims::default();
        // One bit per registered claim and per context claim, to refuse repeated names: a token
        // with two `aud` or two `exp` could be read differently by another parser.
        let mut seen: Seen = 0;
        let mut mark = |bit: u32| -> Result<(), A::Error> {
            if seen & (1 << bit) != 0 {
                return Err(de::Error::custom("repeated claim"));
            }
            seen |= 1 << bit;
            Ok(())
        };
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            let field = Field::from_name(&name);
            let context_slot = self.rules.slot_of(&name, field);
            if let Some(field) = field {
                mark(field as u32)?;
            }
            let audiences = &self.rules.audiences;
            match (field, context_slot) {
                (None, None) => {
                    map.next_value::<IgnoredAny>()?;
                }
                // The common case: a registered claim read straight into its field.
                (Some(field), None) => {
                    map.next_value_seed(FieldSeed {
                        field,
                        claims: &mut claims,
                        audiences,
                    })?;
                }
                // A claim wanted in the context too: kept raw, then read from the raw text.
                (field, Some(slot)) => {
                    let raw: &'de RawValue = map.next_value()?;
                    mark(CAPTURED_BIT0 + slot as u32)?;
                    claims.captured[slot] = Some(raw.into());
                    if let Some(field) = field {
                        let mut de = serde_json::Deserializer::from_str(raw.get());
                        FieldSeed {
                            field,
                            claims: &mut claims,
                            audiences,
                        }
                        .deserialize(&mut de)
                        .map_err(|_| de::Error::custom("invalid claim type"))?;
                    }
                }
            }
        }
        Ok(claims)
    }
}

/// Reads one registered claim into its field of `claims`.
struct FieldSeed<'c, 'r, 'de> {
    field: Field,
    claims: &'c mut Claims<'de>,
    audiences: &'r [(String, IssuerSet)],
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let claims = self.claims;
        match self.field {
            Field::Iss => claims.iss = Some(CowStr::deserialize(deserializer)?.0),
            Field::Sub => claims.sub = Some(CowStr::deserialize(deserializer)?.0),
            Field::ClientId => claims.client_id = Some(CowStr::deserialize(deserializer)?.0),
            Field::TokenUse => claims.token_use = Some(CowStr::deserialize(deserializer)?.0),
            Field::Exp => claims.exp = Some(f64::deserialize(deserializer)?),
            Field::Nbf => claims.nbf = Some(f64::deserialize(deserializer)?),
            Field::Iat => claims.iat = Some(f64::deserialize(deserializer)?),
            Field::Aud => {
                claims.aud = Some(AudienceSeed(self.audiences).deserialize(deserializer)?)
            }
        }
        Ok(())
    }
}

/// Reads `aud`, a string or an array of strings, into the set of issuers accepting one of its
/// values, so that an array is never collected.
struct AudienceSeed<'r>(&'r [(String, IssuerSet)]);

impl<'de> DeserializeSeed<'de> for AudienceSeed<'_> {
    type Value = IssuerSet;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudienceSeed<'_> {
    type Value = IssuerSet;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(issuers_accepting(self.0, v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut issuers = 0;
        while let Some(CowStr(aud)) = seq.next_element::<CowStr<'de>>()? {
            issuers |= issuers_accepting(self.0, &aud);
        }
        Ok(issuers)
    }
}
