//! The registered claims we check, parsed without copying from the decoded payload, and the one
//! `validate` that applies the configured rules.

use crate::config::Config;
use crate::json::CowStr;
use crate::reject::Reject;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// How many claims `CONTEXT_CLAIMS` may name: they are held in a fixed array on the hot path.
pub const MAX_CONTEXT_CLAIMS: usize = 16;

/// The claim rules, built once from the configuration.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The exact `iss` required.
    pub issuer: String,
    /// A token must name one of these in `aud`.
    pub audiences: Vec<String>,
    /// Leeway for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: u64,
    /// Claims copied into the authorizer context, by name.
    pub context_claims: Vec<String>,
}

impl Rules {
    /// The rules a configuration asks for.
    pub fn from_config(config: &Config) -> Self {
        Rules {
            issuer: config.issuer.clone(),
            audiences: config.audiences.clone(),
            leeway_seconds: config.leeway_seconds,
            context_claims: config.context_claims.clone(),
        }
    }
}

/// Whether the token's `aud` names a configured audience. Decided while parsing, so that an `aud`
/// array is never collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudienceCheck {
    /// No `aud` claim.
    Absent,
    /// `aud` (a string, or an array of strings) contains a configured audience.
    Matches,
    /// `aud` names no configured audience.
    NoMatch,
}

/// The claims of a token, borrowed from its decoded payload.
#[derive(Debug)]
pub struct Claims<'a> {
    /// `iss`.
    pub iss: Option<Cow<'a, str>>,
    /// `sub`, the principal.
    pub sub: Option<Cow<'a, str>>,
    /// The outcome of the audience check.
    pub aud: AudienceCheck,
    /// `exp`, seconds since the epoch.
    pub exp: Option<f64>,
    /// `nbf`, seconds since the epoch.
    pub nbf: Option<f64>,
    /// `iat`, seconds since the epoch.
    pub iat: Option<f64>,
    /// `scope`, space-separated.
    pub scope: Option<Cow<'a, str>>,
    /// The configured context claims, in the order of [`Rules::context_claims`].
    pub context: [Option<&'a RawValue>; MAX_CONTEXT_CLAIMS],
}

/// Parses a decoded JWT payload.
///
/// # Errors
/// [`Reject::Malformed`] when the payload is not a JSON object; [`Reject::InvalidClaim`] when a
/// claim we read has the wrong type (`exp` as a string, `aud` as a number) or a claim is repeated.
pub fn parse<'a>(json: &'a [u8], rules: &Rules) -> Result<Claims<'a>, Reject> {
    // serde_json skips the claims we do not read without checking their UTF-8; a claims set is
    // UTF-8 JSON (RFC 7519 §7.2). Found by fuzz target `claims`.
    if json.trim_ascii_start().first() != Some(&b'{') || std::str::from_utf8(json).is_err() {
        return Err(Reject::Malformed);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let claims = ClaimsSeed { rules }
        .deserialize(&mut de)
        .and_then(|claims| de.end().map(|()| claims))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Reject::InvalidClaim,
            _ => Reject::Malformed,
        })?;
    Ok(claims)
}

/// Checks parsed claims against the rules at time `now` (seconds since the epoch).
///
/// # Errors
/// The first rule broken: [`Reject::MissingClaim`] (no `exp` or `sub`), [`Reject::Expired`],
/// [`Reject::NotYetValid`] (`nbf` or `iat` in the future), [`Reject::BadIssuer`], [`Reject::BadAudience`].
pub fn validate(claims: &Claims<'_>, rules: &Rules, now: u64) -> Result<(), Reject> {
    let now = now as f64;
    let leeway = rules.leeway_seconds as f64;
    let exp = claims.exp.ok_or(Reject::MissingClaim)?;
    if now >= exp + leeway {
        return Err(Reject::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now + leeway < nbf)
        || claims.iat.is_some_and(|iat| iat > now + leeway)
    {
        return Err(Reject::NotYetValid);
    }
    if claims.iss.as_deref() != Some(rules.issuer.as_str()) {
        return Err(Reject::BadIssuer);
    }
    if claims.aud != AudienceCheck::Matches {
        return Err(Reject::BadAudience);
    }
    if claims.sub.as_deref().is_none_or(str::is_empty) {
        return Err(Reject::MissingClaim);
    }
    Ok(())
}

/// The claims we read; everything else is skipped without being stored.
#[derive(Clone, Copy)]
enum Field {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Scope,
}

impl Field {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "iss" => Field::Iss,
            "sub" => Field::Sub,
            "aud" => Field::Aud,
            "exp" => Field::Exp,
            "nbf" => Field::Nbf,
            "iat" => Field::Iat,
            "scope" => Field::Scope,
            _ => return None,
        })
    }
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
        let mut claims = Claims {
            iss: None,
            sub: None,
            aud: AudienceCheck::Absent,
            exp: None,
            nbf: None,
            iat: None,
            scope: None,
            context: [None; MAX_CONTEXT_CLAIMS],
        };
        // One bit per registered claim and per context claim, to refuse repeated names: a token
        // with two `aud` or two `exp` could be read differently by another parser.
        let mut seen = 0u32;
        let mut mark = |bit: u32| -> Result<(), A::Error> {
            if seen & (1 << bit) != 0 {
                return Err(de::Error::custom("repeated claim"));
            }
            seen |= 1 << bit;
            Ok(())
        };
        while let Some(CowStr(name)) = map.next_key::<CowStr<'de>>()? {
            let field = Field::from_name(&name);
            let context_slot = self.rules.context_claims.iter().position(|c| *c == name);
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
                    mark(16 + slot as u32)?;
                    claims.context[slot] = Some(raw);
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
    audiences: &'r [String],
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let claims = self.claims;
        match self.field {
            Field::Iss => claims.iss = Some(CowStr::deserialize(deserializer)?.0),
            Field::Sub => claims.sub = Some(CowStr::deserialize(deserializer)?.0),
            Field::Scope => claims.scope = Some(CowStr::deserialize(deserializer)?.0),
            Field::Exp => claims.exp = Some(f64::deserialize(deserializer)?),
            Field::Nbf => claims.nbf = Some(f64::deserialize(deserializer)?),
            Field::Iat => claims.iat = Some(f64::deserialize(deserializer)?),
            Field::Aud => claims.aud = AudienceSeed(self.audiences).deserialize(deserializer)?,
        }
        Ok(())
    }
}

/// Checks `aud`, a string or an array of strings, against the configured audiences as it is read.
struct AudienceSeed<'r>(&'r [String]);

impl<'de> DeserializeSeed<'de> for AudienceSeed<'_> {
    type Value = AudienceCheck;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AudienceSeed<'_> {
    type Value = AudienceCheck;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if self.0.iter().any(|a| a == v) {
            AudienceCheck::Matches
        } else {
            AudienceCheck::NoMatch
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut check = AudienceCheck::NoMatch;
        while let Some(CowStr(aud)) = seq.next_element::<CowStr<'de>>()? {
            if self.0.iter().any(|a| *a == aud) {
                check = AudienceCheck::Matches;
            }
        }
        Ok(check)
    }
}

#[cfg(test)]
mod tests;
