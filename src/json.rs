//! Zero-copy JSON helpers shared by the event, header and claim parsers.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;
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

/// The text of one JSON value (without the whitespace around it), borrowed from a document that a
/// reader has checked: a [`Scanner`] ([`Scanner::raw_value`]) or serde_json (from its
/// [`RawValue`]). It is what `RawValue` is, and exists because a `&RawValue` can only come out of
/// serde_json reading the value, which the scanner has already done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// The value's JSON text.
    pub fn get(self) -> &'a str {
        self.0
    }
}

impl<'a> From<&'a RawValue> for RawJson<'a> {
    fn from(raw: &'a RawValue) -> Self {
        RawJson(raw.get())
    }
}

/// A JSON scanner for the documents on the hot path (events, JOSE headers, claims), which borrows
/// every string it keeps and skips the values it does not need without building anything.
///
/// Through serde_json, derive-generated field matching and two passes over every string kept
/// (escape scan, then UTF-8 validation) cost more than everything else we do outside RSA. Here a
/// short kept string is one pass eight bytes at a time, and a long one (the token in an event) one
/// `memchr2` for its end and one branch-free scan the compiler vectorizes.
///
/// A scanner only ever answers for a document serde_json would read the same way. Anything it is
/// not sure of (an escape in a string it keeps, a repeated field, an unexpected type, a number or
/// literal it does not recognise, nesting deeper than [`MAX_DEPTH`], invalid JSON) makes its
/// caller give up with `None` and leave the document to serde_json, the reference. Each caller's
/// tests check the two agree on arbitrary input.
///
/// Skipped strings are checked for escapes and control characters, as serde_json does, but not
/// for UTF-8 (neither does serde_json): callers that need it validate the whole input first.
pub(crate) struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// How deep the scanner follows nested values before leaving the document to serde_json.
const MAX_DEPTH: u32 = 64;
// `skip_value` keeps one bit per open container in a `u64`.
const _: () = assert!(MAX_DEPTH <= u64::BITS);

/// How many bytes of a string [`Scanner::string`] reads word by word before leaving it to memchr.
const SHORT: usize = 64;

impl<'a> Scanner<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, at: 0 }
    }

    /// The next byte that is not JSON whitespace, not consumed.
    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
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
    pub(crate) fn eat(&mut self, expected: u8) -> Option<()> {
        (self.peek()? == expected).then(|| self.at += 1)
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Opens an object or array (`open` is `{` or `[`): `Some(true)` when it is empty and already
    /// closed, `Some(false)` when a member or element follows.
    #[inline]
    pub(crate) fn open(&mut self, open: u8) -> Option<bool> {
        self.eat(open)?;
        let close = if open == b'{' { b'}' } else { b']' };
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
        }
        Some(empty)
    }

    /// After a member or element: `true` at the closing `end`, `false` after a comma.
    #[inline]
    pub(crate) fn comma_or_end(&mut self, end: u8) -> Option<bool> {
        let b = self.peek()?;
        self.at += 1;
        match b {
            b',' => Some(false),
            _ if b == end => Some(true),
            _ => None,
        }
    }

    /// A member's name and its colon.
    #[inline]
    pub(crate) fn key(&mut self) -> Option<&'a str> {
        let name = self.string()?;
        self.eat(b':')?;
        Some(name)
    }

    /// A string without escapes: borrowed, checked to be UTF-8 without control characters.
    #[inline]
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = &self.bytes[self.at..];
        let short = &rest[..rest.len().min(SHORT)];
        let text = match first_unusual(short) {
            // Most strings (names, claims, URLs) are short printable ASCII: found in one pass,
            // eight bytes at a time, where memchr's set-up alone cost more.
            Some(len) if short[len] == b'"' => {
                // SAFETY: every byte before the first unusual one is printable ASCII.
                unsafe { std::str::from_utf8_unchecked(&short[..len]) }
            }
            _ => long_or_unusual_string(rest)?,
        };
        self.at += text.len() + 1;
        Some(text)
    }

    /// A string as [`Scanner::string`] reads it, for a value that is usually long (a token, an
    /// ARN): searched with memchr at once, where `string` first reads 64 bytes word by word.
    #[inline]
    pub(crate) fn long_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let text = long_or_unusual_string(&self.bytes[self.at..])?;
        self.at += text.len() + 1;
        Some(text)
    }

    /// A non-negative integer of at most 19 digits (so it fits a `u64`), as serde_json reads
    /// it; anything else (a sign, a fraction, an exponent, more digits) is left to serde_json.
    #[inline]
    pub(crate) fn integer(&mut self) -> Option<u64> {
        self.peek()?;
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = &self.bytes[self.at..self.at + digits];
        let after = self.bytes.get(self.at + digits);
        if digits == 0
            || digits > 19
            || (text[0] == b'0' && digits > 1)
            || matches!(after, Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.at += digits;
        Some(text.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
    }

    /// Skips any JSON value, checking it is well-formed. Containers are followed with a stack of
    /// one bit per level (1: object), up to [`MAX_DEPTH`].
    pub(crate) fn skip_value(&mut self) -> Option<()> {
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
                    self.skip_key()?;
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
                        self.skip_key()?;
                    }
                    break;
                }
                depth -= 1;
                objects >>= 1;
            }
        }
    }

    /// Consumes `null` if it comes next.
    pub(crate) fn null(&mut self) -> Option<()> {
        self.peek()?;
        self.literal(b"null")
    }

    /// Skips one value of `json`, the UTF-8 document this scanner reads, and returns its text:
    /// the claims parser keeps a captured claim this way, read once, by the same checks that skip
    /// the claims it does not keep (serde_json's `RawValue` would have it read the value again).
    pub(crate) fn raw_value(&mut self, json: &'a str) -> Option<RawJson<'a>> {
        debug_assert!(
            std::ptr::eq(json.as_bytes(), self.bytes),
            "the scanner's own document"
        );
        self.peek()?;
        let start = self.at;
        self.skip_value()?;
        json.get(start..self.at).map(RawJson)
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

    /// `"name":` inside a skipped object.
    fn skip_key(&mut self) -> Option<()> {
        self.eat(b'"')?;
        self.skip_str()?;
        self.eat(b':')
    }
}

/// The index of the first byte of `bytes` that is `"`, `\\`, a control character or not ASCII,
/// read eight bytes at a time (SWAR, so it works alike on x86_64 and Graviton).
///
/// Each test flags the high bit of the bytes it matches; a borrow can flag a byte wrongly, but
/// only one after a byte that really matched, so the lowest flag is always right.
#[inline]
fn first_unusual(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_le_bytes([b' '; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    // A plain index rather than `chunks_exact`, whose remainder bookkeeping cost more than the
    // first word's test, which is all most strings (names, short values) need.
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let controls = x.wrapping_sub(SPACES) & !x;
        let non_ascii = x;
        let flags =
            (zero_bytes(x ^ QUOTES) | zero_bytes(x ^ BACKSLASHES) | controls | non_ascii) & HIGH;
        if flags != 0 {
            return Some(at + flags.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let unusual = |&b: &u8| b == b'"' || b == b'\\' || !(b' '..0x80).contains(&b);
    bytes[at..].iter().position(unusual).map(|i| at + i)
}

/// The text of a string (`rest` follows its opening quote) that is long or not printable ASCII,
/// when it has no escape: checked to be UTF-8 without control characters.
fn long_or_unusual_string(rest: &[u8]) -> Option<&str> {
    let len = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[len] != b'"' {
        return None;
    }
    let text = &rest[..len];
    // Long printable ASCII (a token) needs no UTF-8 decoding: one scan without early exit, which
    // the compiler vectorizes. `b + 1` as a signed byte is below 0x21 exactly for the bytes
    // outside 0x20..=0x7e: one compare per byte that SSE2 has (`pcmpgtb`).
    let unusual = text.iter().fold(0u8, |unusual, &b| {
        unusual | u8::from((b.wrapping_add(1) as i8) < 0x21)
    });
    if unusual == 0 {
        // SAFETY: every byte is ASCII.
        return Some(unsafe { std::str::from_utf8_unchecked(text) });
    }
    let text = std::str::from_utf8(text).ok()?;
    (!text.bytes().any(|b| b < 0x20)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// The word-at-a-time search finds what a byte-at-a-time one finds, wherever it is.
        #[test]
        fn first_unusual_finds_the_first_unusual_byte(
            bytes in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
                "[ -~]{0,80}".prop_map(String::into_bytes),
            ]
        ) {
            let expected = bytes.iter().position(|&b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b));
            proptest::prop_assert_eq!(first_unusual(&bytes), expected);
        }
    }

    proptest::proptest! {
        /// `long_string` reads what `string` reads, and stops where it stops.
        #[test]
        fn long_strings_read_as_strings(
            text in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100),
                "[ -~]{0,100}".prop_map(String::into_bytes),
                "[ -!#-\\[\\]-~]{0,100}\"[ -~]{0,8}".prop_map(String::into_bytes),
            ]
        ) {
            let json = [&b"\""[..], &text].concat();
            let (mut short, mut long) = (Scanner::new(&json), Scanner::new(&json));
            proptest::prop_assert_eq!(short.string(), long.long_string());
            proptest::prop_assert_eq!(short.at, long.at);
        }
    }

    #[test]
    fn borrows_unless_the_string_has_escapes() {
        let plain: Option<CowStr> = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(cow(plain), Some(Cow::Borrowed("abc"))));
        let escaped: CowStr = serde_json::from_str(r#""a\u0062c""#).unwrap();
        assert!(matches!(escaped.0, Cow::Owned(ref s) if s == "abc"));
        assert!(serde_json::from_str::<CowStr>("1").is_err());
    }
}

/// proptest strategies for JSON documents that a [`Scanner`] and serde_json must read alike.
#[cfg(test)]
pub(crate) mod arbitrary {
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::{Value, json};

    /// A string: one of `common`, printable ASCII, or any Unicode.
    pub(crate) fn text(common: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
        prop_oneof![
            prop::sample::select(common).prop_map(str::to_owned),
            "[ -~]{0,12}",
            any::<String>(),
        ]
    }

    /// Any JSON value nested up to four levels, its strings and member names drawn from `common`
    /// or anything.
    pub(crate) fn value(common: &'static [&'static str]) -> impl Strategy<Value = Value> + Clone {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            text(common).prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec((text(common), inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// An object written member by member, so names may repeat.
    pub(crate) fn object(members: &[(String, Value)]) -> String {
        let members: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// Inserts (`op` 0), removes (1) or replaces (2) one byte of `json`.
    pub(crate) fn damage(json: &mut Vec<u8>, at: Index, byte: u8, op: u8) {
        let at = at.index(json.len() + 1);
        match op {
            0 => json.insert(at, byte),
            1 if at < json.len() => {
                json.remove(at);
            }
            _ if at < json.len() => json[at] = byte,
            _ => {}
        }
    }
}
