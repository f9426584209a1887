use super::*;

const TOKEN_EVENT: &[u8] = include_bytes!("../../events/token.json");
const REQUEST_EVENT: &[u8] = include_bytes!("../../events/request.json");
const HTTP_V2_EVENT: &[u8] = include_bytes!("../../events/http-api-v2.json");

/// What the scanner reads of an event, or `None` where it leaves the event to serde_json.
fn scanned<'a>(json: &'a [u8], names: &Names<'_>) -> Option<Fields<'a>> {
    let mut fields = Fields::default();
    scan::scan(json, names, &mut fields).map(|()| fields)
}

#[test]
fn reads_the_sample_events_without_copying() {
    let token = parse(TOKEN_EVENT).unwrap();
    assert_eq!(token.kind, EventKind::Token);
    assert!(matches!(token.authorization, Some(Cow::Borrowed(t)) if t.starts_with("Bearer ey")));
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
fn the_request_is_read_for_sender_constrained_tokens() {
    let request = parse(REQUEST_EVENT).unwrap().possession;
    assert_eq!(request.method.as_deref(), Some("GET"));
    assert_eq!(request.path.as_deref(), Some("/prod/pets/1"));
    assert_eq!(
        request.domain.as_deref(),
        Some("abcdef123.execute-api.us-east-1.amazonaws.com")
    );
    assert_eq!((request.dpop, request.client_cert_pem), (None, None));
    let v2 = parse(HTTP_V2_EVENT).unwrap().possession;
    assert_eq!(
        (v2.method.as_deref(), v2.path.as_deref()),
        (Some("GET"), Some("/pets"))
    );
    assert_eq!(
        parse(TOKEN_EVENT).unwrap().possession,
        Possession::default()
    );

    let event = br#"{"type":"REQUEST","methodArn":"a","httpMethod":"POST","headers":{"dpop":"p.r.f","Authorization":"DPoP t"},"requestContext":{"domainName":"api.example.com","path":"/v1/pets","identity":{"sourceIp":"1","clientCert":{"clientCertPem":"PEM","validity":{}}}}}"#;
    let names = default_names();
    let mut fields = scanned(event, &names).expect("the scanner reads it");
    assert_eq!(Ok(&fields), Fields::with_serde(event, &names).as_ref());
    let possession = fields
        .take_event(&IdentitySource::default())
        .unwrap()
        .possession;
    assert_eq!(possession.dpop.as_deref(), Some("p.r.f"));
    assert_eq!(possession.method.as_deref(), Some("POST"));
    assert_eq!(possession.domain.as_deref(), Some("api.example.com"));
    assert_eq!(possession.path.as_deref(), Some("/v1/pets"));
    assert_eq!(possession.client_cert_pem.as_deref(), Some("PEM"));
    // HTTP API mutual TLS: the certificate is in `authentication`, and only there.
    let http = br#"{"version":"2.0","routeArn":"a","requestContext":{"identity":{"clientCert":{"clientCertPem":"REST"}},"authentication":{"clientCert":{"clientCertPem":"HTTP","subjectDN":"CN=c"}}}}"#;
    let mut fields = scanned(http, &names).expect("the scanner reads it");
    assert_eq!(Ok(&fields), Fields::with_serde(http, &names).as_ref());
    let possession = fields
        .take_event(&IdentitySource::default())
        .unwrap()
        .possession;
    assert_eq!(possession.client_cert_pem.as_deref(), Some("HTTP"));
    let rest_place = br#"{"version":"2.0","routeArn":"a","requestContext":{"identity":{"clientCert":{"clientCertPem":"REST"}}}}"#;
    assert_eq!(parse(rest_place).unwrap().possession.client_cert_pem, None);
    let http_place = br#"{"type":"REQUEST","methodArn":"a","requestContext":{"authentication":{"clientCert":{"clientCertPem":"HTTP"}}}}"#;
    assert_eq!(parse(http_place).unwrap().possession.client_cert_pem, None);
    // Twice in one object: left to serde_json, which refuses the event.
    let twice = br#"{"version":"2.0","routeArn":"a","requestContext":{"authentication":null,"authentication":{}}}"#;
    assert_eq!(scanned(twice, &names), None);
    assert_eq!(parse(twice), Err(Reject::BadEvent));
    // Two `DPoP` headers (in two cases) are refused, as two credentials are.
    let twice = br#"{"type":"REQUEST","methodArn":"a","headers":{"DPoP":"a","dpop":"b"}}"#;
    assert_eq!(parse(twice), Err(Reject::BadEvent));
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

/// The default identity source, and `Authorization` plus the route key.
fn default_names() -> Names<'static> {
    Names {
        header: Some("Authorization"),
        query: None,
        credential: 0,
        route_key: None,
    }
}

fn identity(value: &str) -> IdentitySource {
    IdentitySource::parse(value).unwrap()
}

#[test]
fn http_api_verifies_the_credential_that_api_gateway_caches_on() {
    // The cache key is `X-Token`: a different `Authorization` header must not be what is verified.
    let event = br#"{"version":"2.0","type":"REQUEST","routeArn":"arn","routeKey":"GET /pets","identitySource":["Bearer cached"],"headers":{"authorization":"Bearer other","x-token":"Bearer cached"}}"#;
    let x_token = identity("$request.header.X-Token");
    assert_eq!(
        parse_with(event, &x_token)
            .unwrap()
            .authorization
            .as_deref(),
        Some("Bearer cached")
    );
    assert_eq!(
        parse(event).unwrap().authorization.as_deref(),
        Some("Bearer cached")
    );
    // Without identity source values (no cache), the configured header is read.
    let uncached = br#"{"version":"2.0","routeArn":"arn","headers":{"x-token":"Bearer t","authorization":"Bearer a"}}"#;
    let event = parse_with(uncached, &x_token).unwrap();
    assert_eq!(
        (event.authorization.as_deref(), event.cached_per_route),
        (Some("Bearer t"), true)
    );
}

#[test]
fn http_api_identity_values_must_match_the_configured_identity_source() {
    let with_route = identity("$request.header.Authorization,$context.routeKey");
    let event = br#"{"version":"2.0","routeArn":"arn","routeKey":"GET /pets/{petId}","identitySource":["Bearer t","GET /pets/{petId}"]}"#;
    let parsed = parse_with(event, &with_route).unwrap();
    assert_eq!(parsed.authorization.as_deref(), Some("Bearer t"));
    assert!(parsed.cached_per_route);
    assert_eq!(parsed.route(), Some(("GET", "/pets/{petId}")));
    // Two values where one is configured, or a route value that is not the route key.
    assert_eq!(parse(event), Err(Reject::UnsafeCacheKey));
    let spoofed = br#"{"version":"2.0","routeArn":"arn","routeKey":"POST /pets","identitySource":["Bearer t","GET /pets"]}"#;
    assert_eq!(
        parse_with(spoofed, &with_route),
        Err(Reject::UnsafeCacheKey)
    );
    // The token alone: cached for every route.
    let token_only = br#"{"version":"2.0","routeArn":"arn","routeKey":"$default","identitySource":["Bearer t"]}"#;
    let parsed = parse(token_only).unwrap();
    assert!(!parsed.cached_per_route);
    assert_eq!(parsed.route(), Some(("$default", "")));
}

#[test]
fn request_events_name_their_route_template_and_credential() {
    let request = parse(REQUEST_EVENT).unwrap();
    assert_eq!(request.route(), Some(("GET", "/pets/{petId}")));
    let event = br#"{"type":"REQUEST","methodArn":"arn","httpMethod":"GET","resource":"/{proxy+}","headers":{"Authorization":"Bearer h"},"queryStringParameters":{"Token":"x","token":"Bearer q"}}"#;
    let query = identity("method.request.querystring.token");
    assert_eq!(
        parse_with(event, &query).unwrap().authorization.as_deref(),
        Some("Bearer q")
    );
    assert_eq!(
        parse(event).unwrap().authorization.as_deref(),
        Some("Bearer h")
    );
    assert_eq!(parse(TOKEN_EVENT).unwrap().route(), None);
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
        let names = default_names();
        let fields = scanned(event, &names).expect("the scanner reads it");
        assert_eq!(Ok(&fields), Fields::with_serde(event, &names).as_ref());
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
        assert_eq!(
            scanned(event, &default_names()),
            None,
            "{}",
            String::from_utf8_lossy(event)
        );
    }
    // ...which reads some of them after all.
    let escaped = parse(br#"{"type":"TOK\u0045N","methodArn":"a\/b"}"#).unwrap();
    assert_eq!(
        (escaped.kind, escaped.arn.as_ref()),
        (EventKind::Token, "a/b")
    );
    // serde reads a struct from an array too; an event is an object.
    let array = br#"["TOKEN",null,"Bearer t","a",null,null,null,null,null,null,null,null,null]"#;
    assert_eq!(parse(array), Err(Reject::BadEvent));
}

#[test]
fn ignored_values_of_every_kind_are_skipped() {
    let event = r#" { "x" : [ {}, [], [[ ]], {"a":{"b":[1,-2.5e+3,0,true,false,null]}}, "s\"\\\/\b\f\n\r\t\u00e9", "é" ] ,
        "type":"TOKEN", "y":{ }, "methodArn" : "a" , "z":-0.0E1 } "#
        .as_bytes();
    let names = default_names();
    let fields = scanned(event, &names).expect("the scanner reads it");
    assert_eq!(fields.kind.as_deref(), Some("TOKEN"));
    assert_eq!(Ok(fields), Fields::with_serde(event, &names));
}

mod agree_with_serde_json {
    use super::super::*;
    use super::{HTTP_V2_EVENT, REQUEST_EVENT, TOKEN_EVENT, default_names, scanned};
    use crate::json::arbitrary::{damage, object, text, value};
    use proptest::prelude::*;
    use serde_json::Value;

    /// What the scanner says must be what serde_json says.
    fn check(event: &[u8]) -> Result<(), TestCaseError> {
        // The default identity source, and a query parameter with the route key second.
        let query = Names {
            header: None,
            query: Some("token"),
            credential: 0,
            route_key: Some(1),
        };
        for names in [default_names(), query] {
            if let Some(fields) = scanned(event, &names) {
                prop_assert_eq!(
                    Ok(fields),
                    Fields::with_serde(event, &names),
                    "{}",
                    String::from_utf8_lossy(event)
                );
            }
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
        "queryStringParameters",
        "routeKey",
        "resource",
        "httpMethod",
        "token",
        "GET /pets",
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "host",
        "DPoP",
        "dpop",
        "rawPath",
        "requestContext",
        "domainName",
        "path",
        "http",
        "method",
        "identity",
        "clientCert",
        "clientCertPem",
        "authentication",
    ];

    fn event() -> impl Strategy<Value = String> {
        let (text, value) = (text(COMMON), value(COMMON));
        let headers =
            prop::collection::vec((text.clone(), value.clone()), 0..4).prop_map(|m| object(&m));
        let identity = prop::collection::vec(text.clone(), 0..4).prop_map(Value::from);
        // `requestContext` objects nested as API Gateway nests them, with generated members.
        let leaf = prop_oneof![value.clone(), text.clone().prop_map(Value::from)];
        let cert = prop::collection::vec((text.clone(), leaf.clone()), 0..3).prop_map(|m| {
            let mut o: serde_json::Map<String, Value> = m.into_iter().collect();
            o.insert("clientCertPem".into(), Value::from("PEM"));
            Value::Object(o)
        });
        let context = (
            prop::collection::vec((text.clone(), leaf.clone()), 0..4),
            prop::option::of(leaf.clone()),
            prop::option::of(leaf),
            prop::option::of(cert.clone()),
            prop::option::of(cert),
        )
            .prop_map(|(members, method, domain, cert, http_cert)| {
                let mut o: serde_json::Map<String, Value> = members.into_iter().collect();
                if let Some(method) = method {
                    o.insert("http".into(), serde_json::json!({ "method": method }));
                }
                if let Some(domain) = domain {
                    o.insert("domainName".into(), domain);
                }
                if let Some(cert) = cert {
                    o.insert("identity".into(), serde_json::json!({ "clientCert": cert }));
                }
                if let Some(cert) = http_cert {
                    o.insert(
                        "authentication".into(),
                        serde_json::json!({ "clientCert": cert }),
                    );
                }
                Value::Object(o)
            });
        let member = prop_oneof![
            context.prop_map(|c| format!(r#""requestContext":{c}"#)),
            (text.clone(), value).prop_map(|(n, v)| format!("{}:{v}", Value::from(n))),
            headers.clone().prop_map(|h| format!(r#""headers":{h}"#)),
            headers.prop_map(|h| format!(r#""queryStringParameters":{h}"#)),
            identity.prop_map(|i| format!(r#""identitySource":{i}"#)),
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

/// `"identitySource": []` is no cache key, as a missing one is: API Gateway caches nothing, and
/// the configured header is the credential. (cargo-mutants: taken as a key of no values, it was
/// refused as `unsafe_cache_key`, and no test noticed.)
#[test]
fn an_empty_identity_source_is_no_cache_key() {
    let event = br#"{"version":"2.0","routeArn":"arn","routeKey":"GET /pets","identitySource":[],"headers":{"authorization":"Bearer t"}}"#;
    let parsed = parse(event).unwrap();
    assert_eq!(
        (parsed.authorization.as_deref(), parsed.cached_per_route),
        (Some("Bearer t"), true)
    );
}

/// The serde_json path reads a credential in `queryStringParameters` as the scanner does.
#[test]
fn the_serde_path_reads_a_query_string_credential() {
    let query = identity("method.request.querystring.token");
    // The escaped ARN leaves the event to serde_json.
    let event = br#"{"type":"REQUEST","methodArn":"a\/b","queryStringParameters":{"Token":"x","token":"Bearer q"},"headers":{"Authorization":"Bearer h"}}"#;
    assert_eq!(scanned(event, &Names::of(&query)), None);
    let parsed = parse_with(event, &query).unwrap();
    assert_eq!(
        (parsed.authorization.as_deref(), parsed.arn.as_ref()),
        (Some("Bearer q"), "a/b")
    );
}
