//! The request model: how a verified token becomes a Cedar principal, its groups and attributes,
//! and how a route becomes an action on a resource. It follows Amazon Verified Permissions'
//! API-linked policy stores, so that their policies work here unchanged where the models overlap:
//!
//! | Cedar | Here | Verified Permissions |
//! |---|---|---|
//! | principal | `{ns}::User::"{prefix}|{sub}"` | the same; prefix: the user pool id (Cognito) or the identity source's entity id prefix (OIDC) |
//! | prefix | Cognito: the user pool id, from the issuer URL; OIDC: the issuer's name (`ISSUER_NAME`, the file's `name`) | the same for Cognito; OIDC: a prefix of your choosing |
//! | groups | parents `{ns}::UserGroup::"{prefix}|{group}"`, from `cognito:groups` (Cognito) or the groups claim (`CEDAR_GROUPS_CLAIM`, default `groups`) | the same |
//! | claims | attributes of the principal *and* the record `context.token`, whatever the token's `token_use` | ID tokens: principal attributes; access tokens: context |
//! | types | string: `String`; integer: `Long`; `true`/`false`: `Boolean`; array: `Set`; object: `Record`; scope claims (`SCOPE_CLAIMS`) as a `Set` of their words | the same for these; a number with a fraction, or `null`, is left out here |
//! | action | `{ns}::Action::"get /pets/{petId}"`: the method in lower case and the route template | the same |
//! | resource | `{ns}::Application::"{name}"`: the OpenAPI document's `info.title`, else the namespace | `{ns}::Application::"{API name}"` |
//!
//! Entities are built without the schema: a claim whose type differs from the schema's, or that
//! the schema does not declare, makes the policies that read it fail to evaluate (skipped, as
//! Cedar does with any policy whose evaluation errs), instead of refusing the whole token. A
//! token's claims are read once per cache miss; an object with a member twice is refused
//! (`invalid_claim`), as the authorizer refuses claims it reads twice.

use super::context;
use super::uses::{Reads, Uses};
use crate::report::Reject;
use cedar_policy::{Context, Entities, EntityId, EntityTypeName, EntityUid};
use cedar_policy_core::ast::{self, RestrictedExpr};
use cedar_policy_core::entities::{NoEntitiesSchema, TCComputation};
use cedar_policy_core::extensions::Extensions;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use smol_str::SmolStr;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// A claim's value as Cedar can hold it.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimValue {
    /// A JSON string.
    String(String),
    /// A JSON integer that fits in 64 bits.
    Long(i64),
    /// `true` or `false`.
    Bool(bool),
    /// An array (its values that Cedar can hold).
    Set(Vec<ClaimValue>),
    /// An object (its members that Cedar can hold).
    Record(Vec<(String, ClaimValue)>),
    /// `null`, or a number Cedar has no type for (a fraction, or beyond 64 bits): left out.
    Unrepresentable,
}

impl ClaimValue {
    fn to_expression(&self) -> Option<RestrictedExpr> {
        Some(match self {
            ClaimValue::String(s) => RestrictedExpr::val(s.as_str()),
            ClaimValue::Long(n) => RestrictedExpr::val(*n),
            ClaimValue::Bool(b) => RestrictedExpr::val(*b),
            ClaimValue::Set(items) => {
                RestrictedExpr::set(items.iter().filter_map(ClaimValue::to_expression))
            }
            ClaimValue::Record(members) => RestrictedExpr::record(
                members
                    .iter()
                    .filter_map(|(k, v)| Some((SmolStr::new(k), v.to_expression()?))),
            )
            // Members are distinct: the parser refuses an object with a member twice.
            .ok()?,
            ClaimValue::Unrepresentable => return None,
        })
    }
}

/// A token's claims, in order, each once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenClaims(pub Vec<(String, ClaimValue)>);

impl TokenClaims {
    /// Reads a token's payload (already verified).
    ///
    /// # Errors
    /// [`Reject::InvalidClaim`] when it is not a JSON object, or an object in it has a member twice.
    pub fn parse(payload: &[u8]) -> Result<Self, Reject> {
        let mut de = serde_json::Deserializer::from_slice(payload);
        match de.deserialize_any(ValueVisitor) {
            Ok(ClaimValue::Record(members)) if de.end().is_ok() => Ok(TokenClaims(members)),
            _ => Err(Reject::InvalidClaim),
        }
    }

    /// The claim `name`.
    pub fn get(&self, name: &str) -> Option<&ClaimValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The subject, which names the principal.
    ///
    /// # Errors
    /// [`Reject::MissingClaim`] without a string `sub`.
    pub fn sub(&self) -> Result<&str, Reject> {
        match self.get("sub") {
            Some(ClaimValue::String(sub)) => Ok(sub),
            _ => Err(Reject::MissingClaim),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = ClaimValue;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Long(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<ClaimValue, E> {
        Ok(i64::try_from(n).map_or(ClaimValue::Unrepresentable, ClaimValue::Long))
    }
    fn visit_f64<E>(self, _: f64) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Unrepresentable)
    }
    fn visit_str<E>(self, s: &str) -> Result<ClaimValue, E> {
        Ok(ClaimValue::String(s.to_owned()))
    }
    fn visit_unit<E>(self) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Unrepresentable)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<ClaimValue, A::Error> {
        let mut set = Vec::new();
        while let Some(item) = items.next_element_seed(Seed)? {
            set.push(item);
        }
        Ok(ClaimValue::Set(set))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClaimValue, A::Error> {
        let mut members: Vec<(String, ClaimValue)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom("a member appears twice"));
            }
            let value = map.next_value_seed(Seed)?;
            members.push((key, value));
        }
        Ok(ClaimValue::Record(members))
    }
}

struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = ClaimValue;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ClaimValue, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// The entity types and the resource, from the namespace and the application's name.
#[derive(Clone, Debug)]
pub struct Model {
    user: EntityTypeName,
    group: EntityTypeName,
    action: EntityTypeName,
    resource: EntityUid,
}

impl Model {
    /// The model in namespace `namespace` (empty: no namespace) for the application `application`.
    ///
    /// # Errors
    /// When the namespace is not a Cedar name (`PetStore`, `MyCorp::Api`).
    pub fn new(namespace: &str, application: &str) -> Result<Self, String> {
        let name = |ty: &str| {
            let full = if namespace.is_empty() {
                ty.to_owned()
            } else {
                format!("{namespace}::{ty}")
            };
            EntityTypeName::from_str(&full).map_err(|e| {
                format!("{namespace:?} is not a Cedar namespace (as in `PetStore`): {e}")
            })
        };
        let app = name("Application")?;
        Ok(Model {
            user: name("User")?,
            group: name("UserGroup")?,
            action: name("Action")?,
            resource: EntityUid::from_type_name_and_id(app, EntityId::new(application)),
        })
    }

    /// The principal's entity type.
    pub fn user_type(&self) -> &EntityTypeName {
        &self.user
    }

    /// The groups' entity type.
    pub fn group_type(&self) -> &EntityTypeName {
        &self.group
    }

    /// The resource: the API.
    pub fn resource(&self) -> &EntityUid {
        &self.resource
    }

    /// The action of a route (`get /pets/{petId}`).
    pub fn action(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(id))
    }

    /// The principal of a token, the entities a request needs and the context, leaving out what
    /// no policy reads (`uses`).
    ///
    /// The groups are the principal's parents, and not entities of their own: a group has no
    /// attributes and no parents, and `in` looks at the principal's ancestors alone, so an entity
    /// for each would change no decision, and cost one more entity in Cedar's transitive closure.
    /// For the same reason the resource (no attributes, no parents) is not an entity: Cedar
    /// treats an entity it does not hold as one with no attributes and no parents (`has` is
    /// false, `in` is equality, reading an attribute errs either way). The schema's action
    /// entities (`actions`, action groups) and the groups are given when some policy tests
    /// ancestry (`uses.ancestry`).
    ///
    /// The values are built with `extensions` alone: Cedar's extension functions' tables (about
    /// 2 million instructions, built on first use) are only needed by policies that call them.
    ///
    /// # Errors
    /// [`Reject::MissingClaim`] without a string `sub`; [`Reject::InvalidClaim`] when Cedar
    /// refuses the entities built from the claims (a defence: the values built here are always
    /// representable).
    pub fn request_parts(
        &self,
        issuer: &IssuerModel,
        claims: &TokenClaims,
        actions: &Entities,
        uses: &Uses,
        extensions: &Extensions<'_>,
    ) -> Result<(EntityUid, Entities, Context), Reject> {
        let principal = EntityUid::from_type_name_and_id(
            self.user.clone(),
            EntityId::new(format!("{}|{}", issuer.prefix, claims.sub()?)),
        );
        // Cedar's own types, through `cedar-policy`'s conversions (`#[doc(hidden)]`, and only as
        // stable as the exact version Cargo.toml pins): its public constructors all build the
        // extension tables.
        let context = match &uses.token {
            Reads::Nothing => Context::empty(),
            token => {
                let record = RestrictedExpr::record(issuer.attributes(claims, token))
                    .map_err(|_| Reject::InvalidClaim)?;
                let pairs = [(SmolStr::new_static(context::TOKEN), record)];
                Context::from(
                    ast::Context::from_pairs(pairs, extensions)
                        .map_err(|_| Reject::InvalidClaim)?,
                )
            }
        };
        let attributes: Vec<_> = issuer.attributes(claims, &uses.attributes).collect();
        let groups: HashSet<ast::EntityUID> = if uses.ancestry {
            issuer
                .groups(claims)
                .map(|g| {
                    let group = EntityUid::from_type_name_and_id(
                        self.group.clone(),
                        EntityId::new(format!("{}|{g}", issuer.prefix)),
                    );
                    AsRef::<ast::EntityUID>::as_ref(&group).clone()
                })
                .collect()
        } else {
            HashSet::new()
        };
        let entities = if attributes.is_empty() && groups.is_empty() && !uses.ancestry {
            Entities::empty()
        } else {
            let user = ast::Entity::new(
                AsRef::<ast::EntityUID>::as_ref(&principal).clone(),
                attributes,
                HashSet::new(),
                groups,
                [],
                extensions,
            )
            .map_err(|_| Reject::InvalidClaim)?;
            let actions = uses.ancestry.then(|| actions.as_ref().iter().cloned());
            Entities::from(
                cedar_policy_core::entities::Entities::from_entities(
                    std::iter::once(user).chain(actions.into_iter().flatten()),
                    None::<&NoEntitiesSchema>,
                    TCComputation::ComputeNow,
                    extensions,
                )
                .map_err(|_| Reject::InvalidClaim)?,
            )
        };
        Ok((principal, entities, context))
    }
}

/// What the model needs of a token's issuer.
#[derive(Clone, Debug)]
pub struct IssuerModel {
    /// The principal and group ids' prefix: the user pool id, or the issuer's name.
    pub prefix: String,
    /// The claim holding the groups.
    pub groups_claim: String,
    /// The claims read as scopes (a space-separated string becomes a set).
    pub scope_claims: Vec<String>,
}

impl IssuerModel {
    /// The groups: the groups claim's strings (an array), or its one string.
    pub fn groups<'c>(&self, claims: &'c TokenClaims) -> impl Iterator<Item = &'c str> {
        let (one, many) = match claims.get(&self.groups_claim) {
            Some(ClaimValue::String(group)) => (Some(group.as_str()), &[][..]),
            Some(ClaimValue::Set(groups)) => (None, groups.as_slice()),
            _ => (None, &[][..]),
        };
        one.into_iter().chain(many.iter().filter_map(|g| match g {
            ClaimValue::String(g) => Some(g.as_str()),
            _ => None,
        }))
    }

    /// The claims `reads` admits, as attributes: each as its Cedar type, scope claims as sets of
    /// their words.
    pub fn attributes<'c>(
        &'c self,
        claims: &'c TokenClaims,
        reads: &'c Reads,
    ) -> impl Iterator<Item = (SmolStr, RestrictedExpr)> + 'c {
        claims
            .0
            .iter()
            .filter(|(name, _)| reads.admits(name))
            .filter_map(|(name, value)| {
                let expression = match value {
                    ClaimValue::String(words) if self.scope_claims.contains(name) => {
                        RestrictedExpr::set(
                            words
                                .split(' ')
                                .filter(|w| !w.is_empty())
                                .map(RestrictedExpr::val),
                        )
                    }
                    other => other.to_expression()?,
                };
                Some((SmolStr::new(name), expression))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::{Authorizer, Decision, PolicySet, Request};

    fn cognito() -> IssuerModel {
        IssuerModel {
            prefix: "us-east-1_ABC1234".into(),
            groups_claim: "cognito:groups".into(),
            scope_claims: vec!["scope".into(), "scp".into()],
        }
    }

    /// Whether `policies` permit the token `claims` to call `action`.
    fn permits(policies: &str, issuer: &IssuerModel, claims: &str, action: &str) -> bool {
        let model = Model::new("PetStore", "PetStore").unwrap();
        let claims = TokenClaims::parse(claims.as_bytes()).unwrap();
        let (principal, entities, context) = model
            .request_parts(
                issuer,
                &claims,
                &Entities::empty(),
                &Uses::ALL,
                Extensions::none(),
            )
            .unwrap();
        let request = Request::new(
            principal,
            model.action(action),
            model.resource().clone(),
            context,
            None,
        )
        .unwrap();
        let policies = PolicySet::from_str(policies).unwrap();
        Authorizer::new()
            .is_authorized(&request, &policies, &entities)
            .decision()
            == Decision::Allow
    }

    #[test]
    fn a_verified_permissions_group_policy_works_unchanged() {
        // The example of API Gateway's guide to Verified Permissions, in namespace PetStore.
        let policy = r#"permit(principal in PetStore::UserGroup::"us-east-1_ABC1234|developer",
                               action in [PetStore::Action::"get /users"], resource);"#;
        let developer = r#"{"sub":"alice","cognito:groups":["readers","developer"]}"#;
        let reader = r#"{"sub":"bob","cognito:groups":["readers"]}"#;
        assert!(permits(policy, &cognito(), developer, "get /users"));
        assert!(!permits(policy, &cognito(), developer, "post /users"));
        assert!(!permits(policy, &cognito(), reader, "get /users"));
        let user = r#"permit(principal == PetStore::User::"us-east-1_ABC1234|bob", action, resource == PetStore::Application::"PetStore");"#;
        assert!(permits(user, &cognito(), reader, "delete /pets"));
    }

    #[test]
    fn claims_become_typed_attributes_and_the_token_record_of_the_context() {
        let claims = r#"{"sub":"a","email":"a@example.com","age":42,"admin":true,"ratio":0.5,
            "nothing":null,"scope":"read:pets  write:pets","tags":["x",1],
            "address":{"country":"NZ","zip":1010}}"#;
        let oidc = IssuerModel {
            prefix: "auth0".into(),
            groups_claim: "groups".into(),
            scope_claims: vec!["scope".into()],
        };
        let yes = [
            r#"principal.email like "*@example.com""#,
            "principal.age > 40",
            "principal.admin",
            r#"principal.scope.contains("write:pets") && !principal.scope.contains("")"#,
            r#"principal.tags.contains("x") && principal.tags.contains(1)"#,
            r#"principal.address.country == "NZ" && principal.address.zip == 1010"#,
            "!(principal has ratio) && !(principal has nothing)",
            r#"context.token.email == principal.email && context.token.scope.contains("read:pets")"#,
        ];
        for condition in yes {
            let policy = format!("permit(principal, action, resource) when {{ {condition} }};");
            assert!(permits(&policy, &oidc, claims, "get /pets"), "{condition}");
        }
        // A scope claim that is an array stays a set of its strings.
        assert!(permits(
            r#"permit(principal, action, resource) when { principal.scp.contains("a") };"#,
            &cognito(),
            r#"{"sub":"a","scp":["a","b"]}"#,
            "get /pets"
        ));
    }

    #[test]
    fn groups_come_from_the_configured_claim_as_an_array_or_one_string() {
        let oidc = IssuerModel {
            prefix: "okta".into(),
            groups_claim: "roles".into(),
            scope_claims: vec![],
        };
        let policy =
            r#"permit(principal in PetStore::UserGroup::"okta|admins", action, resource);"#;
        assert!(permits(
            policy,
            &oidc,
            r#"{"sub":"a","roles":["admins"]}"#,
            "get /"
        ));
        assert!(permits(
            policy,
            &oidc,
            r#"{"sub":"a","roles":"admins"}"#,
            "get /"
        ));
        assert!(!permits(
            policy,
            &oidc,
            r#"{"sub":"a","groups":["admins"]}"#,
            "get /"
        ));
        assert!(!permits(
            policy,
            &cognito(),
            r#"{"sub":"a","roles":["admins"]}"#,
            "get /"
        ));
    }

    #[test]
    fn a_member_twice_anywhere_or_a_payload_that_is_not_an_object_is_refused() {
        for payload in [
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"sub":"a","x":{"y":1,"y":2}}"#,
            r#"{"sub":"a","x":[{"y":1,"y":2}]}"#,
            r#"["sub"]"#,
            r#"{"sub":"a"} {}"#,
        ] {
            assert_eq!(
                TokenClaims::parse(payload.as_bytes()),
                Err(Reject::InvalidClaim),
                "{payload}"
            );
        }
        let parsed = TokenClaims::parse(br#"{"n":18446744073709551615,"m":-3}"#).unwrap();
        assert_eq!(parsed.get("n"), Some(&ClaimValue::Unrepresentable));
        assert_eq!(parsed.get("m"), Some(&ClaimValue::Long(-3)));
    }

    #[test]
    fn a_bad_namespace_is_refused_and_none_is_allowed() {
        assert!(Model::new("Pet Store", "x").is_err());
        let plain = Model::new("", "api").unwrap();
        assert_eq!(plain.action("get /").to_string(), r#"Action::"get /""#);
        assert_eq!(
            Model::new("My::Api", "api").unwrap().resource().to_string(),
            r#"My::Api::Application::"api""#
        );
    }
}
