//! Framing: the `Bearer` scheme, the three segments of a compact JWS, base64url into caller-owned
//! buffers, and the JOSE header. Nothing here looks at keys or claims.

use crate::algorithm::Algorithm;
use crate::json::{CowStr, Scanner};
use crate::report::Reject;
use base64_simd::{Out, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;
use std::mem::MaybeUninit;

/// Takes the token out of an `Authorization` value: `Bearer` in any case, exactly one space, then
/// the token. Anything else (another scheme, no space, two spaces, trailing junk) is refused.
///
/// # Errors
/// [`Reject::MissingToken`] for an empty value, [`Reject::Malformed`] for anything not `Bearer <token>`.
pub fn bearer_token(authorization: &str) -> Result<&str, Reject> {
    if authorization.is_empty() {
        return Err(Reject::MissingToken);
    }
    const SCHEME: &str = "bearer ";
    let Some((scheme, token)) = authorization.split_at_checked(SCHEME.len()) else {
        return Err(Reject::Malformed);
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(Reject::Malformed);
    }
    if token.is_empty() {
        return Err(Reject::MissingToken);
    }
    Ok(token)
}

/// The `Authorization` scheme a token came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): the token is DPoP-bound and a `DPoP` proof header comes with it.
    Dpop,
}

/// Takes the token out of an `Authorization` value: [`bearer_token`], or the same framing with
/// the `DPoP` scheme (RFC 9449 §7.1; schemes are case-insensitive, RFC 9110 §11.1). Whether the
/// token may use that scheme is decided once it is verified (see `binding`).
///
/// # Errors
/// As [`bearer_token`], for a value that is neither `Bearer <token>` nor `DPoP <token>`.
pub fn credential(authorization: &str) -> Result<(Scheme, &str), Reject> {
    const DPOP: &str = "dpop ";
    match bearer_token(authorization) {
        Ok(token) => Ok((Scheme::Bearer, token)),
        Err(reject) => match authorization.split_at_checked(DPOP.len()) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case(DPOP) => {
                if token.is_empty() {
                    Err(Reject::MissingToken)
                } else {
                    Ok((Scheme::Dpop, token))
                }
            }
            _ => Err(reject),
        },
    }
}

/// The three base64url segments of a compact JWS, still encoded, borrowed from the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The encoded JOSE header.
    pub header: &'a str,
    /// The encoded claims.
    pub payload: &'a str,
    /// The encoded signature.
    pub signature: &'a str,
}

/// Splits a compact JWS into exactly three non-empty segments of canonical base64url.
///
/// # Errors
/// [`Reject::Malformed`] for any other number of segments, an empty segment, a character outside
/// the base64url alphabet (padding `=` included: JWS never pads), or a segment that is not
/// canonical base64url (a length of 4n+1, or non-zero trailing bits).
pub fn split(token: &str) -> Result<Segments<'_>, Reject> {
    let segments = frame(token)?;
    for segment in [segments.header, segments.payload, segments.signature] {
        check_segment(segment)?;
    }
    Ok(segments)
}

/// Splits a compact JWS into exactly three non-empty segments, without checking what they
/// hold: for a caller that checks each segment itself, with [`DecodeBuf::decode`] (which accepts
/// exactly what [`check_segment`] accepts) or [`check_segment`].
///
/// # Errors
/// [`Reject::Malformed`] for any other number of segments, or an empty one.
pub fn frame(token: &str) -> Result<Segments<'_>, Reject> {
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(Reject::Malformed);
    };
    // Decoding an empty segment succeeds (with nothing), so `frame` refuses it.
    if first == 0 || second == first + 1 || second + 1 == token.len() {
        return Err(Reject::Malformed);
    }
    Ok(Segments {
        signing_input: &token[..second],
        header: &token[..first],
        payload: &token[first + 1..second],
        signature: &token[second + 1..],
    })
}

/// Checks that a segment is non-empty canonical base64url, as [`DecodeBuf::decode`] does, without
/// decoding it.
///
/// # Errors
/// [`Reject::Malformed`] otherwise (see [`split`]).
pub fn check_segment(segment: &str) -> Result<(), Reject> {
    // base64-simd's SIMD check: a byte-at-a-time loop here was a third of the non-crypto cost,
    // and the branch-free alphabet scan that replaced it still cost as much as the whole event
    // parse.
    if segment.is_empty() || URL_SAFE_NO_PAD.check(segment.as_bytes()).is_err() {
        return Err(Reject::Malformed);
    }
    Ok(())
}

/// A base64url decoding buffer that lives on the stack and spills to the heap only for inputs
/// larger than `N` decoded bytes, so a typical token decodes without allocating. The stack part is
/// left uninitialised: the decoder writes every byte it returns, and zeroing 3.5 KiB of buffers
/// per request showed in profiles.
pub struct DecodeBuf<const N: usize> {
    stack: [MaybeUninit<u8>; N],
    heap: Vec<u8>,
}

impl<const N: usize> Default for DecodeBuf<N> {
    fn default() -> Self {
        Self {
            stack: [MaybeUninit::uninit(); N],
            heap: Vec::new(),
        }
    }
}

impl<const N: usize> DecodeBuf<N> {
    /// Decodes `segment` (base64url, no padding, canonical trailing bits) into this buffer.
    ///
    /// # Errors
    /// [`Reject::Malformed`] when the segment is not canonical base64url.
    pub fn decode(&mut self, segment: &str) -> Result<&[u8], Reject> {
        let segment = segment.as_bytes();
        let len = URL_SAFE_NO_PAD
            .decoded_length(segment)
            .map_err(|_| Reject::Malformed)?;
        let out = if len <= N {
            Out::from_uninit_slice(&mut self.stack[..len])
        } else {
            self.heap.resize(len, 0);
            Out::from_slice(&mut self.heap[..len])
        };
        let decoded = URL_SAFE_NO_PAD
            .decode(segment, out)
            .map_err(|_| Reject::Malformed)?;
        Ok(decoded)
    }
}

/// The JOSE header fields we act on, borrowed from the decoded header bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The signing algorithm (already known to be one we can verify).
    pub alg: Algorithm,
    /// The key id, used to pick the issuer's key.
    pub kid: Cow<'a, str>,
}

/// Parses a decoded JOSE header.
///
/// # Errors
/// [`Reject::Malformed`] for bad JSON (UTF-8 included), a duplicated field or no `alg`; [`Reject::AlgNotAllowed`]
/// for an `alg` we never verify (`none`, HMAC) or that is not in `allowed`;
/// [`Reject::UnsupportedCrit`] when `crit` is present; [`Reject::MissingKid`] when `kid` is absent.
pub fn parse_header<'a>(json: &'a [u8], allowed: &[Algorithm]) -> Result<Header<'a>, Reject> {
    // serde_json skips the members we do not read without checking their UTF-8, but a JOSE
    // header is UTF-8 JSON (RFC 7515 §5.2). The fuzz targets found the same gap in claims and events.
    // A header is short ASCII: `is_ascii` reads it a word at a time, where simdutf8 hands inputs
    // under 64 bytes to `str::from_utf8`, which cost four times as much.
    let json = if json.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        unsafe { std::str::from_utf8_unchecked(json) }
    } else {
        simdutf8::basic::from_utf8(json).map_err(|_| Reject::Malformed)?
    };
    let raw = match scan_header(json) {
        Some(raw) => raw,
        None => serde_json::from_str(json).map_err(|_| Reject::Malformed)?,
    };
    let alg = raw.alg.ok_or(Reject::Malformed)?.0;
    let alg = Algorithm::from_jose(&alg)
        .filter(|alg| allowed.contains(alg))
        .ok_or(Reject::AlgNotAllowed)?;
    // We implement no JWS extension, so any critical header parameter is one we do not understand.
    if raw.crit.is_some() {
        return Err(Reject::UnsupportedCrit);
    }
    let kid = raw.kid.ok_or(Reject::MissingKid)?.0;
    Ok(Header { alg, kid })
}

/// The header members we read, as serde_json reads them: the reference, and the path for
/// everything [`scan_header`] leaves to it.
#[derive(Debug, PartialEq, Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Option<CowStr<'a>>,
    #[serde(borrow)]
    kid: Option<CowStr<'a>>,
    crit: Option<IgnoredAny>,
}

/// The fast path: reads a header with a [`Scanner`], or gives up with `None` on anything it is
/// not sure serde_json reads the same way (an escape, a repeated or `null` member, another type).
fn scan_header(json: &str) -> Option<RawHeader<'_>> {
    let mut scanner = Scanner::new(json.as_bytes());
    let mut raw = RawHeader {
        alg: None,
        kid: None,
        crit: None,
    };
    if !scanner.open(b'{')? {
        loop {
            match scanner.key()? {
                "alg" if raw.alg.is_none() => {
                    raw.alg = Some(CowStr(Cow::Borrowed(scanner.string()?)));
                }
                "kid" if raw.kid.is_none() => {
                    raw.kid = Some(CowStr(Cow::Borrowed(scanner.string()?)));
                }
                "alg" | "kid" | "crit" => return None,
                _ => scanner.skip_value()?,
            }
            if scanner.comma_or_end(b'}')? {
                break;
            }
        }
    }
    scanner.at_end().then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_with_exactly_one_space() {
        assert_eq!(bearer_token("Bearer a.b.c"), Ok("a.b.c"));
        assert_eq!(bearer_token("bearer a.b.c"), Ok("a.b.c"));
        assert_eq!(bearer_token("BEARER a.b.c"), Ok("a.b.c"));
        assert_eq!(bearer_token(""), Err(Reject::MissingToken));
        assert_eq!(bearer_token("Bearer "), Err(Reject::MissingToken));
        assert_eq!(bearer_token("Bearer"), Err(Reject::Malformed));
        assert_eq!(bearer_token("Basic a.b.c"), Err(Reject::Malformed));
        assert_eq!(bearer_token("Bearer\ta.b.c"), Err(Reject::Malformed));
        assert_eq!(bearer_token("a.b.c"), Err(Reject::Malformed));
        assert_eq!(bearer_token("Bearér a.b.c"), Err(Reject::Malformed));
        assert_eq!(bearer_token("DPoP a.b.c"), Err(Reject::Malformed));
    }

    #[test]
    fn dpop_is_the_other_scheme() {
        assert_eq!(credential("Bearer a.b.c"), Ok((Scheme::Bearer, "a.b.c")));
        assert_eq!(credential("DPoP a.b.c"), Ok((Scheme::Dpop, "a.b.c")));
        assert_eq!(credential("dpop a.b.c"), Ok((Scheme::Dpop, "a.b.c")));
        assert_eq!(credential("DPoP "), Err(Reject::MissingToken));
        assert_eq!(credential("DPoP"), Err(Reject::Malformed));
        assert_eq!(credential("DPoPa.b.c"), Err(Reject::Malformed));
        assert_eq!(credential("Basic a.b.c"), Err(Reject::Malformed));
        assert_eq!(credential(""), Err(Reject::MissingToken));
        // The token itself is checked by `split`, which refuses the second space.
        assert_eq!(
            split(bearer_token("Bearer  a.b.c").unwrap()),
            Err(Reject::Malformed)
        );
    }

    #[test]
    fn splits_exactly_three_segments() {
        let s = split("aGVhZA.cGF5bG9hZA.c2ln").unwrap();
        assert!(split("aGVhZA.cGF5bG9hZA.c2lnbg").is_ok());
        assert_eq!(s.header, "aGVhZA");
        assert_eq!(s.payload, "cGF5bG9hZA");
        assert_eq!(s.signature, "c2ln");
        assert_eq!(s.signing_input, "aGVhZA.cGF5bG9hZA");
        for bad in [
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
            "a",
            ".b.c",
            "a..c",
            "a.b.",
            "a.b.c=",
            "a+b.c.d",
            "a.b.c ",
            "a/b.c.d",
            "",
            // Not canonical base64url: 4n+1 characters, or trailing bits set.
            "a.cGF5bG9hZA.c2ln",
            "aGVhZA.cGF5bG9hZA.aGl",
        ] {
            assert_eq!(split(bad), Err(Reject::Malformed), "{bad:?}");
        }
        // `frame` counts the segments and leaves their contents to its caller.
        assert_eq!(frame("a+b.c=.d").map(|s| s.payload), Ok("c="));
        for bad in ["a.b", "a.b.c.d", "", ".b.c", "a..c", "a.b."] {
            assert_eq!(frame(bad), Err(Reject::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn decodes_on_the_stack_and_spills_large_inputs() {
        let mut small = DecodeBuf::<4>::default();
        assert_eq!(small.decode("aGk").unwrap(), b"hi");
        assert!(small.heap.capacity() == 0);
        assert_eq!(small.decode("aGVsbG8gd29ybGQ").unwrap(), b"hello world");
        // Non-canonical trailing bits are refused, so a signature has exactly one encoding.
        assert_eq!(small.decode("aGl"), Err(Reject::Malformed));
        assert_eq!(small.decode("a"), Err(Reject::Malformed));
    }

    proptest::proptest! {
        /// `split` accepts a token exactly when it has three non-empty dot-separated segments that
        /// the `base64` crate's strict decoder decodes.
        #[test]
        fn splits_what_decodes(token in proptest::prop_oneof![
            "[A-Za-z0-9_-]{0,9}\\.[A-Za-z0-9_-]{0,9}\\.[A-Za-z0-9_-]{0,9}",
            "[A-Za-z0-9_=+/. -]{0,16}",
        ]) {
            use base64::Engine;
            let parts: Vec<&str> = token.split('.').collect();
            let expected = parts.len() == 3
                && parts.iter().all(|p| {
                    !p.is_empty() && base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).is_ok()
                });
            proptest::prop_assert_eq!(split(&token).is_ok(), expected, "{}", token);
        }

        /// The SIMD decoder accepts exactly what the `base64` crate's strict decoder accepts.
        #[test]
        fn decodes_like_the_base64_crate(segment in proptest::prop_oneof![
            "[A-Za-z0-9_-]{0,80}",
            "[A-Za-z0-9_=+/.-]{0,12}",
            proptest::prelude::any::<String>(),
        ]) {
            use base64::Engine;
            let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&segment)
                .map_err(|_| Reject::Malformed);
            let mut small = DecodeBuf::<16>::default();
            proptest::prop_assert_eq!(small.decode(&segment).map(<[u8]>::to_vec), expected);
        }

        /// A caller of `frame` that decodes some segments and checks the others refuses exactly
        /// the tokens that `split` refuses: decoding accepts what `check_segment` accepts.
        #[test]
        fn checking_a_segment_accepts_what_decoding_accepts(segment in proptest::prop_oneof![
            "[A-Za-z0-9_-]{1,80}",
            "[A-Za-z0-9_=+/.-]{1,12}",
            proptest::prelude::any::<String>(),
        ]) {
            // ... but for the empty segment, which decodes to nothing: `frame` refuses it.
            proptest::prop_assume!(!segment.is_empty());
            let mut small = DecodeBuf::<16>::default();
            proptest::prop_assert_eq!(
                check_segment(&segment),
                small.decode(&segment).map(|_| ()),
                "{:?}", segment
            );
        }

        /// `frame` accepts what `split` accepts, and more only for segments it does not check.
        #[test]
        fn frames_what_splits(token in proptest::prop_oneof![
            "[A-Za-z0-9_-]{0,9}\\.[A-Za-z0-9_-]{0,9}\\.[A-Za-z0-9_-]{0,9}",
            "[A-Za-z0-9_=+/. -]{0,16}",
        ]) {
            let expected = split(&token).is_ok();
            let framed = frame(&token)
                .map(|s| [s.header, s.payload, s.signature].into_iter().all(|s| check_segment(s).is_ok()));
            proptest::prop_assert_eq!(framed.unwrap_or(false), expected, "{}", token);
            if let Ok(s) = frame(&token) {
                proptest::prop_assert_eq!(format!("{}.{}.{}", s.header, s.payload, s.signature), token);
            }
        }
    }

    const AUTH0_HEADER: &str = r#"{"alg":"RS256","typ":"JWT","kid":"NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg"}"#;

    #[test]
    fn headers_take_the_fast_path_unless_unusual() {
        let raw = scan_header(AUTH0_HEADER).expect("the scanner reads it");
        assert_eq!(
            raw,
            serde_json::from_str::<RawHeader>(AUTH0_HEADER).unwrap()
        );
        for unusual in [
            r#"{"alg":"RS\u0032256","kid":"k"}"#,
            r#"{"alg":"RS256","alg":"none","kid":"k"}"#,
            r#"{"alg":"RS256","kid":null}"#,
            r#"{"alg":"RS256","kid":"k","crit":["b64"]}"#,
            r#"{"alg":"RS256","kid":7}"#,
            r#"{"alg":"RS256","kid":"k"}x"#,
        ] {
            assert_eq!(scan_header(unusual), None, "{unusual}");
        }
    }

    #[test]
    fn headers_are_utf8_json_ascii_or_not() {
        let allowed = [Algorithm::RS256];
        let header = |kid: &[u8]| [br#"{"alg":"RS256","kid":""#, kid, br#""}"#].concat();
        let accented = header("clé".as_bytes());
        assert_eq!(parse_header(&accented, &allowed).unwrap().kid, "clé");
        // A lone continuation byte, a truncated sequence, an overlong `/`: not UTF-8.
        for bad in [&b"cl\x80"[..], b"cl\xc3", b"\xc0\xaf"] {
            assert_eq!(
                parse_header(&header(bad), &allowed),
                Err(Reject::Malformed),
                "{bad:?}"
            );
        }
    }

    mod header_agrees_with_serde_json {
        use super::super::*;
        use super::AUTH0_HEADER;
        use crate::json::arbitrary::{damage, object, text, value};
        use proptest::prelude::*;
        use serde_json::Value;

        /// Strings and member names a header has.
        const COMMON: &[&str] = &["alg", "kid", "typ", "crit", "jku", "RS256", "JWT", "k1"];

        /// What the scanner says must be what serde_json says.
        fn check(json: &[u8]) -> Result<(), TestCaseError> {
            let Ok(json) = std::str::from_utf8(json) else {
                return Ok(()); // `parse_header` refuses it before either path
            };
            if let Some(raw) = scan_header(json) {
                prop_assert_eq!(
                    Ok(raw),
                    serde_json::from_str::<RawHeader>(json).map_err(drop),
                    "{}",
                    json
                );
            }
            Ok(())
        }

        fn header() -> impl Strategy<Value = String> {
            let name = prop::sample::select(COMMON).prop_map(str::to_owned);
            let member = prop_oneof![
                (text(COMMON), value(COMMON)),
                (name, text(COMMON).prop_map(Value::from)),
            ];
            prop::collection::vec(member, 0..6).prop_map(|members| object(&members))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

            #[test]
            fn on_generated_headers(header in header()) {
                check(header.as_bytes())?;
            }

            #[test]
            fn on_damaged_headers(header in prop_oneof![header(), Just(AUTH0_HEADER.to_owned())], at in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0..3u8) {
                let mut header = header.into_bytes();
                damage(&mut header, at, byte, op);
                check(&header)?;
            }
        }
    }

    #[test]
    fn header_rules() {
        let rs = [Algorithm::RS256];
        let ok = parse_header(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#, &rs).unwrap();
        assert_eq!(
            ok,
            Header {
                alg: Algorithm::RS256,
                kid: "k1".into()
            }
        );
        assert!(matches!(ok.kid, Cow::Borrowed(_)));
        let cases: [(&[u8], Reject); 10] = [
            (br#"{"alg":"none","kid":"k1"}"#, Reject::AlgNotAllowed),
            (br#"{"alg":"HS256","kid":"k1"}"#, Reject::AlgNotAllowed),
            (br#"{"alg":"RS512","kid":"k1"}"#, Reject::AlgNotAllowed),
            (br#"{"alg":"RS256"}"#, Reject::MissingKid),
            (
                br#"{"alg":"RS256","kid":"k1","crit":["exp"]}"#,
                Reject::UnsupportedCrit,
            ),
            (br#"{"kid":"k1"}"#, Reject::Malformed),
            (
                br#"{"alg":"RS256","alg":"none","kid":"k1"}"#,
                Reject::Malformed,
            ),
            (br#"{"alg":256,"kid":"k1"}"#, Reject::Malformed),
            (b"not json", Reject::Malformed),
            (
                b"{\"alg\":\"RS256\",\"kid\":\"k1\",\"x\":\"\xff\"}",
                Reject::Malformed,
            ),
        ];
        for (json, reason) in cases {
            assert_eq!(
                parse_header(json, &rs),
                Err(reason),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }
}
