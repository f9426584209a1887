//! The API Gateway tutorial's PetStore example API, kept in memory: the backend `serve` protects.
//!
//! `GET /pets`, `GET /pets/{petId}` and `POST /pets`. The store keeps the three seed pets and the
//! most recent additions up to [`MAX_PETS`], so a load test that posts for hours stays in bounded
//! memory.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The most pets held; beyond it the oldest added pet (never a seed) is dropped.
pub const MAX_PETS: usize = 100;

/// One pet.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Pet {
    /// The pet's id.
    pub id: u64,
    /// `dog`, `cat`, `fish`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its price.
    pub price: f64,
}

/// The seed pets of the tutorial's example API.
const SEEDS: [(&str, f64); 3] = [("dog", 249.99), ("cat", 124.99), ("fish", 0.99)];

/// The in-memory store.
pub(crate) struct Pets {
    inner: Mutex<Store>,
}

struct Store {
    pets: BTreeMap<u64, Pet>,
    next_id: u64,
}

impl Pets {
    pub(crate) fn new() -> Self {
        let pets = SEEDS
            .iter()
            .zip(1..)
            .map(|((kind, price), id)| {
                (
                    id,
                    Pet {
                        id,
                        kind: (*kind).to_owned(),
                        price: *price,
                    },
                )
            })
            .collect();
        Pets {
            inner: Mutex::new(Store {
                pets,
                next_id: SEEDS.len() as u64 + 1,
            }),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `/pets` and `/pets/{petId}`, each wrapped by `guard` (the gateway's authorization), with
/// `other_method` answering methods the API does not define.
pub(crate) fn routes(
    pets: Arc<Pets>,
    guard: impl Fn(MethodRouter<Arc<Pets>>) -> MethodRouter<Arc<Pets>>,
) -> Router {
    Router::new()
        .route("/pets", guard(get(list).post(create)))
        .route("/pets/{petId}", guard(get(one)))
        .with_state(pets)
}

async fn list(State(pets): State<Arc<Pets>>) -> Response {
    let list: Vec<Pet> = pets.store().pets.values().cloned().collect();
    Json(list).into_response()
}

async fn one(State(pets): State<Arc<Pets>>, Path(id): Path<String>) -> Response {
    let pet = id
        .parse::<u64>()
        .ok()
        .and_then(|id| pets.store().pets.get(&id).cloned());
    match pet {
        Some(pet) => Json(pet).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "pet not found" })),
        )
            .into_response(),
    }
}

/// `POST /pets` body.
#[derive(Deserialize)]
struct NewPet {
    #[serde(rename = "type")]
    kind: String,
    price: f64,
}

const BAD_BODY: &str = r#"the body must be a JSON object {"type": "<1 to 64 characters>", "price": <a number from 0 to 1000000>}"#;

async fn create(State(pets): State<Arc<Pets>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        // Over the body limit (413) or a broken body: say so without echoing it.
        Err(rejection) => {
            return (
                rejection.status(),
                Json(json!({ "message": rejection.body_text() })),
            )
                .into_response();
        }
    };
    let new = match serde_json::from_slice::<NewPet>(&body) {
        Ok(new)
            if (1..=64).contains(&new.kind.chars().count())
                && new.price.is_finite()
                && (0.0..=1_000_000.0).contains(&new.price) =>
        {
            new
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "message": BAD_BODY })),
            )
                .into_response();
        }
    };
    let pet = {
        let mut store = pets.store();
        let id = store.next_id;
        store.next_id += 1;
        let pet = Pet {
            id,
            kind: new.kind,
            price: new.price,
        };
        store.pets.insert(id, pet.clone());
        if store.pets.len() > MAX_PETS {
            let oldest_added = store
                .pets
                .range(SEEDS.len() as u64 + 1..)
                .next()
                .map(|(id, _)| *id);
            if let Some(oldest) = oldest_added {
                store.pets.remove(&oldest);
            }
        }
        pet
    };
    // API Gateway's PetStore example answers 200, not 201.
    Json(json!({ "pet": pet, "message": "success" })).into_response()
}
