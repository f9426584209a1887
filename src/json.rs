//! Zero-copy JSON helpers shared by the event, header and claim parsers.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON string that borrows from the input when it has no escapes, and owns it otherwise.
///
/// `Cow<str>`'s own `Deserialize` always copies, and serde's `#[serde(borrow)]` does not reach
/// through `Option<Cow<str>>`; this type borrows in both places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CowStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowStrVisitor;
        impl<'de> Visitor<'de> for CowStrVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(CowStrVisitor)
    }
}

/// Unwraps an optional [`CowStr`].
pub(crate) fn cow(value: Option<CowStr<'_>>) -> Option<Cow<'_, str>> {
    value.map(|s| s.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_unless_the_string_has_escapes() {
        let plain: Option<CowStr> = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(cow(plain), Some(Cow::Borrowed("abc"))));
        let escaped: CowStr = serde_json::from_str(r#""a\u0062c""#).unwrap();
        assert!(matches!(escaped.0, Cow::Owned(ref s) if s == "abc"));
        assert!(serde_json::from_str::<CowStr>("1").is_err());
    }
}
