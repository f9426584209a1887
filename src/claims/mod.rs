//! The registered claims we check, parsed without copying from the decoded payload, and the one
//! `validate` that applies an issuer's rules.
//!
//! Parsing happens before the signature check, because the unverified `iss` picks the issuer whose
//! keys verify the token; nothing parsed is trusted until [`validate`] runs after that check.

use crate::json::{CowStr, RawJson};
use crate::report::Reject;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// How many claims may be kept raw (context claims, claims of route rules, required claims): they
/// are held in a fixed array on the hot path.
pub const MAX_CAPTURED_CLAIMS: usize = 16;

/// The slots of captured claims: the configured ones, and `cnf`, which is always read (a token
/// that names a confirmation key is checked against it, RFC 7800 §3.1).
pub const CAPTURE_SLOTS: usize = MAX_CAPTURED_CLAIMS + 1;

/// The confirmation claim of sender-constrained tokens (RFC 7800 §3.1, RFC 9449 §6,
/// RFC 8705 §3.1), always captured raw.
pub const CNF: &str = "cnf";

/// A set of issuers, bit `i` for the `i`-th configured issuer.
pub type IssuerSet = u64;

/// At most this many issuers: each has its bit in an [`IssuerSet`].
pub const MAX_ISSUERS: usize = 64;
const _: () = assert!(MAX_ISSUERS <= IssuerSet::BITS as usize);

/// What the payload parser needs, built once from the configuration.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Every accepted audience (Cognito client ids included), with the issuers that accept it:
    /// `aud` is checked while it is read, before the issuer is known.
    audiences: Vec<(String, IssuerSet)>,
    /// Claims kept raw, by name: the context claims first, then those rules need.
    pub captured: Vec<String>,
    /// The slots in `captured` of `SCOPE_CLAIMS`, in their order.
    scope_slots: Vec<usize>,
    /// The slot in `captured` of `USAGE_IDENTIFIER_CLAIM`.
    usage_slot: Option<usize>,
    /// The slot in `captured` of `cnf`.
    cnf_slot: usize,
    /// One bit per [`Field`] whose claim is also in `captured` (see [`captured_fields`]).
    captured_fields: u16,
}

impl Rules {
    /// The parse rules for issuers accepting these audiences (in configuration order), keeping
    /// the `captured` claims raw (which include the scope claims and the usage identifier claim).
    pub fn new<'a>(
        issuer_audiences: impl Iterator<Item = &'a [String]>,
        captured: Vec<String>,
        scope_claims: &[String],
        usage_identifier_claim: Option<&str>,
    ) -> Self {
        let mut audiences: Vec<(String, IssuerSet)> = Vec::new();
        for (i, issuer_audiences) in issuer_audiences.enumerate() {
            for audience in issuer_audiences {
                match audiences.iter_mut().find(|(a, _)| a == audience) {
                    Some((_, issuers)) => *issuers |= 1 << i,
                    None => audiences.push((audience.clone(), 1 << i)),
                }
            }
        }
        let slot = |name: &str| {
            captured
                .iter()
                .position(|c| c == name)
                .expect("scope and usage identifier claims are captured")
        };
        Rules {
            cnf_slot: slot(CNF),
            scope_slots: scope_claims.iter().map(|c| slot(c)).collect(),
            usage_slot: usage_identifier_claim.map(slot),
            captured_fields: captured_fields(&captured),
            audiences,
            captured,
        }
    }

    /// The slot in `captured` of the claim `name`, which [`Field::from_name`] read as `field`.
    ///
    /// Both parsers ask this of every claim of every token, so the common answers are cheap: a
    /// registered claim that is not captured (most claims of a token) is one bit test, and a
    /// name's length and first byte rule out the other captured names before any `memcmp`.
    #[inline]
    fn slot_of(&self, name: &str, field: Option<Field>) -> Option<usize> {
        if field.is_some_and(|field| self.captured_fields & 1 << field as u32 == 0) {
            return None;
        }
        self.captured.iter().position(|c| {
            c.len() == name.len() && c.as_bytes().first() == name.as_bytes().first() && c == name
        })
    }
}

/// One bit per [`Field`] whose registered claim is among `captured`, for [`Rules::slot_of`].
fn captured_fields(captured: &[String]) -> u16 {
    captured
        .iter()
        .filter_map(|name| Field::from_name(name))
        .fold(0, |bits, field| bits | 1 << field as u32)
}

/// What a Cognito user pool's tokens must be (`token_use`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens: `token_use` is `access`, `client_id` one of the client ids.
    Access,
    /// ID tokens: `token_use` is `id`, `aud` one of the client ids.
    Id,
    /// Either, each checked as above.
    Any,
}

impl TokenUse {
    /// Reads `access`, `id` or `any`.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        match value {
            "access" => Ok(TokenUse::Access),
            "id" => Ok(TokenUse::Id),
            "any" => Ok(TokenUse::Any),
            _ => Err(format!("{value:?}: use `access`, `id` or `any`")),
        }
    }
}

/// What one issuer's configuration asks of its tokens' claims.
#[derive(Clone, Copy, Debug)]
pub struct IssuerClaims<'a> {
    /// Leeway for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: u64,
    /// Set for a Cognito user pool: the `token_use` accepted.
    pub cognito: Option<TokenUse>,
    /// The accepted audiences (a Cognito pool's app client ids).
    pub audiences: &'a [String],
    /// Claims a token must carry besides `exp` and `sub`.
    pub required_claims: &'a [String],
    /// Tokens without `cnf` are refused.
    pub require_sender_constraint: bool,
}

/// One issuer's claim rules.
#[derive(Clone, Debug)]
pub struct IssuerRules {
    /// This issuer's bit in an [`IssuerSet`].
    bit: IssuerSet,
    /// Leeway for `exp`, `nbf` and `iat`, in seconds.
    leeway_seconds: u64,
    /// Set for a Cognito user pool: the `token_use` accepted.
    cognito: Option<TokenUse>,
    /// A Cognito pool's app client ids (for `client_id` of access tokens).
    client_ids: Vec<String>,
    /// Claims a token must carry besides `exp` and `sub`.
    required: Vec<ClaimRef>,
    /// Tokens without `cnf` are refused (`require_sender_constraint`).
    require_binding: bool,
}

impl IssuerRules {
    /// The rules of the `index`-th issuer; `captured` is [`Rules::captured`].
    pub fn new(index: usize, issuer: IssuerClaims<'_>, captured: &[String]) -> Self {
        let required = issuer
            .required_claims
            .iter()
            .map(|name| match Field::from_name(name) {
                Some(field) => ClaimRef::Registered(field),
                None => ClaimRef::Captured(
                    captured
                        .iter()
                        .position(|c| c == name)
                        .expect("required claims are captured"),
                ),
            })
            .collect();
        IssuerRules {
            bit: 1 << index,
            leeway_seconds: issuer.leeway_seconds,
            cognito: issuer.cognito,
            client_ids: if issuer.cognito.is_some() {
                issuer.audiences.to_vec()
            } else {
                Vec::new()
            },
            required,
            require_binding: issuer.require_sender_constraint,
        }
    }

    /// Whether this issuer's tokens must be sender-constrained.
    pub fn require_binding(&self) -> bool {
        self.require_binding
    }

    /// The leeway for `exp`, `nbf` and `iat` (and a DPoP proof's `iat`), in seconds.
    pub fn leeway_seconds(&self) -> u64 {
        self.leeway_seconds
    }
}

/// Whether `name` is a claim the parser always reads into its own field.
pub fn is_registered_claim(name: &str) -> bool {
    Field::from_name(name).is_some()
}

/// A required claim: one we always read, or one kept raw.
#[derive(Clone, Copy, Debug)]
enum ClaimRef {
    Registered(Field),
    Captured(usize),
}

/// The claims of a token, borrowed from its decoded payload.
#[derive(Debug, Default)]
pub struct Claims<'a> {
    /// `iss`.
    pub iss: Option<Cow<'a, str>>,
    /// `sub`, the principal.
    pub sub: Option<Cow<'a, str>>,
    /// The issuers that accept one of the token's `aud` values; `None` without an `aud` claim.
    pub aud: Option<IssuerSet>,
    /// `exp`, seconds since the epoch.
    pub exp: Option<f64>,
    /// `nbf`, seconds since the epoch.
    pub nbf: Option<f64>,
    /// `iat`, seconds since the epoch.
    pub iat: Option<f64>,
    /// `client_id` (Cognito access tokens).
    pub client_id: Option<Cow<'a, str>>,
    /// `token_use` (Cognito: `access` or `id`).
    pub token_use: Option<Cow<'a, str>>,
    /// The captured claims, in the order of [`Rules::captured`].
    pub captured: [Option<RawJson<'a>>; CAPTURE_SLOTS],
}

impl<'a> Claims<'a> {
    /// The raw `cnf` claim, when the token has one (even `null`).
    pub fn cnf(&self, rules: &Rules) -> Option<RawJson<'a>> {
        self.captured[rules.cnf_slot]
    }

    /// The token's scopes: the first of `SCOPE_CLAIMS` that is present and not `null`.
    ///
    /// # Errors
    /// [`Reject::InvalidClaim`] when that claim is neither a string nor an array of strings.
    pub fn scopes(&self, rules: &Rules) -> Result<Option<Scopes<'a>>, Reject> {
        let raw = rules
            .scope_slots
            .iter()
            .filter_map(|&slot| self.captured[slot])
            .find(|raw| raw.get() != "null");
        raw.map(Scopes::from_raw).transpose()
    }

    /// The value of `USAGE_IDENTIFIER_CLAIM`, when it is configured.
    ///
    /// # Errors
    /// [`Reject::MissingUsageIdentifier`] when it is configured and the token has no such claim, or
    /// one that is not a non-empty string.
    pub fn usage_identifier(&self, rules: &Rules) -> Result<Option<Cow<'a, str>>, Reject> {
        let Some(slot) = rules.usage_slot else {
            return Ok(None);
        };
        let raw = self.captured[slot].ok_or(Reject::MissingUsageIdentifier)?;
        match serde_json::from_str::<CowStr<'a>>(raw.get()) {
            Ok(CowStr(value)) if !value.is_empty() => Ok(Some(value)),
            _ => Err(Reject::MissingUsageIdentifier),
        }
    }
}

/// A token's scopes, as identity providers send them: a space-separated string (`scope`, Auth0,
/// Cognito) or an array of strings (`scp` of Okta and Entra ID, `permissions` of Auth0 RBAC).
#[derive(Clone, Debug)]
pub enum Scopes<'a> {
    /// A space-separated string, unescaped.
    Words(Cow<'a, str>),
    /// An array of strings, checked to be one, kept as its JSON text.
    List(RawJson<'a>),
}

impl<'a> Scopes<'a> {
    fn from_raw(raw: RawJson<'a>) -> Result<Self, Reject> {
        let text = raw.get();
        match text.as_bytes().first() {
            // The common case, a string without escapes, is borrowed as it is. (memchr: `str::
            // contains` looks at an unaligned short string a byte at a time, 90 instructions for
            // `"openid read:pets"`.)
            Some(b'"') if memchr::memchr(b'\\', text.as_bytes()).is_none() => {
                Ok(Scopes::Words(Cow::Borrowed(&text[1..text.len() - 1])))
            }
            Some(b'"') => serde_json::from_str::<CowStr<'a>>(text)
                .map(|s| Scopes::Words(s.0))
                .map_err(|_| Reject::InvalidClaim),
            Some(b'[') if Scopes::List(raw).each(|_| true) => Ok(Scopes::List(raw)),
            _ => Err(Reject::InvalidClaim),
        }
    }

    /// Whether `scope` is one of the scopes.
    pub fn contains(&self, scope: &str) -> bool {
        let mut found = false;
        self.each(|s| {
            found = s == scope;
            !found
        });
        found
    }

    /// Calls `f` with each scope, in order, until it returns `false`. Returns `false` when a list
    /// turns out to hold something other than strings.
    pub fn each(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        match self {
            Scopes::Words(words) => {
                for word in words.split(' ') {
                    if !f(word) {
                        break;
                    }
                }
                true
            }
            Scopes::List(raw) => {
                struct Each<F>(F);
                impl<'de, F: FnMut(&str) -> bool> Visitor<'de> for Each<F> {
                    type Value = ();
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an array of strings")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(
                        mut self,
                        mut items: A,
                    ) -> Result<(), A::Error> {
                        while let Some(CowStr(item)) = items.next_element::<CowStr<'de>>()? {
                            if !(self.0)(&item) {
                                while items.next_element::<IgnoredAny>()?.is_some() {}
                                break;
                            }
                        }
                        Ok(())
                    }
                }
                let mut de = serde_json::Deserializer::from_str(raw.get());
                de.deserialize_seq(Each(&mut f)).is_ok()
            }
        }
    }
}

/// Parses a decoded JWT payload.
///
/// # Errors
/// [`Reject::Malformed`] when the payload is not a JSON object; [`Reject::InvalidClaim`] when a
/// claim we read has the wrong type (`exp` as a string, `aud` as a number) or a claim is repeated.
pub fn parse<'a>(json: &'a [u8], rules: &Rules) -> Result<Claims<'a>, Reject> {
    // serde_json skips the claims we do not read without checking their UTF-8; a claims set is
    // UTF-8 JSON (RFC 7519 §7.2). Found by fuzz target `claims`. Checked once, up front, so the
    // parser reads a `str` and does not check each string it keeps again.
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(Reject::Malformed);
    }
    let json = simdutf8::basic::from_utf8(json).map_err(|_| Reject::Malformed)?;
    match scan::scan(json, rules) {
        Some(claims) => Ok(claims),
        None => serde_reader::parse_with_serde(json, rules),
    }
}

/// Checks the claims of a token of this issuer (its `iss` already matched) at time `now`
/// (seconds since the epoch). Only call it once the signature is verified.
///
/// # Errors
/// The first rule broken: [`Reject::MissingClaim`] (no `exp` or `sub`, or a required claim
/// missing or `null`), [`Reject::Expired`], [`Reject::NotYetValid`] (`nbf` or `iat` in the future),
/// [`Reject::WrongTokenUse`], [`Reject::BadAudience`] (`aud`, or a Cognito `client_id`).
pub fn validate(claims: &Claims<'_>, rules: &IssuerRules, now: u64) -> Result<(), Reject> {
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
    let audience_matches = claims.aud.is_some_and(|issuers| issuers & rules.bit != 0);
    let audience_checked = match rules.cognito {
        None => audience_matches,
        // Cognito: access tokens carry the app client in `client_id` and no `aud`; ID tokens
        // carry it in `aud`.
        Some(kind) => match (claims.token_use.as_deref(), kind) {
            (Some("access"), TokenUse::Access | TokenUse::Any) => claims
                .client_id
                .as_deref()
                .is_some_and(|id| rules.client_ids.iter().any(|c| c == id)),
            (Some("id"), TokenUse::Id | TokenUse::Any) => audience_matches,
            _ => return Err(Reject::WrongTokenUse),
        },
    };
    if !audience_checked {
        return Err(Reject::BadAudience);
    }
    if claims.sub.as_deref().is_none_or(str::is_empty) {
        return Err(Reject::MissingClaim);
    }
    for required in &rules.required {
        let present = match *required {
            // A JSON `null` is as missing: "the claim is there" must not be satisfied by a
            // value that says there is none.
            ClaimRef::Captured(slot) => {
                claims.captured[slot].is_some_and(|raw| raw.get().trim_ascii() != "null")
            }
            ClaimRef::Registered(field) => match field {
                Field::Iss => claims.iss.is_some(),
                Field::Sub => claims.sub.is_some(),
                Field::Aud => claims.aud.is_some(),
                Field::Exp => claims.exp.is_some(),
                Field::Nbf => claims.nbf.is_some(),
                Field::Iat => claims.iat.is_some(),
                Field::ClientId => claims.client_id.is_some(),
                Field::TokenUse => claims.token_use.is_some(),
            },
        };
        if !present {
            return Err(Reject::MissingClaim);
        }
    }
    Ok(())
}

/// The claims we read; everything else is skipped without being stored.
#[derive(Clone, Copy, Debug)]
enum Field {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    ClientId,
    TokenUse,
}

/// Every registered claim read into a field, in discriminant order: their bits in [`Seen`].
const FIELDS: [Field; 8] = [
    Field::Iss,
    Field::Sub,
    Field::Aud,
    Field::Exp,
    Field::Nbf,
    Field::Iat,
    Field::ClientId,
    Field::TokenUse,
];

/// The claims a payload has named so far, to refuse a repeated name: bit `field as u32` for the
/// registered claims, bit `CAPTURED_BIT0 + slot` for the captured ones.
pub(super) type Seen = u64;
/// The bit of the first captured claim's slot in [`Seen`].
pub(super) const CAPTURED_BIT0: u32 = 16;
const _: () = {
    let mut i = 0;
    while i < FIELDS.len() {
        assert!(FIELDS[i] as usize == i, "FIELDS lists the fields in order");
        i += 1;
    }
    assert!(
        FIELDS.len() <= CAPTURED_BIT0 as usize,
        "fields overlap captured slots"
    );
    assert!(
        CAPTURED_BIT0 as usize + CAPTURE_SLOTS <= Seen::BITS as usize,
        "every captured slot needs a bit of Seen"
    );
};

impl Field {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "iss" => Field::Iss,
            "sub" => Field::Sub,
            "aud" => Field::Aud,
            "exp" => Field::Exp,
            "nbf" => Field::Nbf,
            "iat" => Field::Iat,
            "client_id" => Field::ClientId,
            "token_use" => Field::TokenUse,
            _ => return None,
        })
    }
}

/// The issuers that accept `audience`.
fn issuers_accepting(audiences: &[(String, IssuerSet)], audience: &str) -> IssuerSet {
    audiences
        .iter()
        .find(|(a, _)| a == audience)
        .map_or(0, |(_, issuers)| *issuers)
}

mod scan;
mod serde_reader;
#[cfg(test)]
mod tests;
