//! Response shapes shared across features (contract §0.4–0.6). Quirks the web client depends on — a
//! top-level `user`, string ids on auth user objects — are handled here and in each feature's response
//! types, not in services.

pub mod pitch;
pub mod pitch_input;

use crate::error::{ApiError, ApiResult};
use axum::Json;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use pitchey_store::User;
use serde::Serialize;
use serde_json::Value;

/// `{"success":true,"data":<data>}`.
pub fn ok(data: Value) -> Json<Value> {
    Json(ok_value(data))
}

/// `{"success":true,"data":<data>}` as a value (for cached bodies). `data` is moved in, not copied.
pub fn ok_value(data: Value) -> Value {
    object([("success", true.into()), ("data", data)])
}

/// A response body, serialized: what the cache stores and sends.
pub trait JsonBody {
    /// The body's JSON text.
    fn into_bytes(self) -> ApiResult<Bytes>;
}

impl JsonBody for Value {
    fn into_bytes(self) -> ApiResult<Bytes> {
        serialize(&self).map(|s| s.0)
    }
}

/// A body already serialized, for bodies that repeat parts of themselves: they serialize a structure that
/// refers to one copy of each part ([`Superset`], the search body) instead of building a tree with copies.
pub struct Serialized(pub Bytes);

impl JsonBody for Serialized {
    fn into_bytes(self) -> ApiResult<Bytes> {
        Ok(self.0)
    }
}

/// Serializes `v` into a [`Serialized`] body.
pub fn serialize(v: &impl Serialize) -> ApiResult<Serialized> {
    serde_json::to_vec(v).map(|b| Serialized(Bytes::from(b))).map_err(ApiError::internal)
}

/// The contract's superset of a list response: `{"success":true,"data":{<fields>},<fields>}`, the same
/// fields under `data` and at the top level (§3.3: clients read either), written twice from one copy.
#[derive(Serialize)]
pub struct Superset<'a, T: Serialize> {
    success: bool,
    data: &'a T,
    #[serde(flatten)]
    top: &'a T,
}

impl<'a, T: Serialize> Superset<'a, T> {
    /// The superset of `fields` (an object).
    pub fn of(fields: &'a T) -> Self {
        Superset { success: true, data: fields, top: fields }
    }
}

/// A JSON object from `(key, value)` pairs, moving the values in. (`json!` copies every `Value` it is
/// given through the serializer: for a page of pitch cards that copy cost more than building the cards.)
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// RFC 3339 with milliseconds and `Z`, as JavaScript's `toISOString()` prints.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The user object of login, sign-up and session responses (`id` as a string, per contract §0.6).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthUserBody {
    id: String,
    email: String,
    username: String,
    name: String,
    user_type: &'static str,
    first_name: Option<String>,
    last_name: Option<String>,
    bio: Option<String>,
    company_name: Option<String>,
    profile_image: Option<String>,
    subscription_tier: String,
    email_verified: bool,
    company_verified: bool,
    created_at: String,
}

impl From<&User> for AuthUserBody {
    fn from(u: &User) -> Self {
        AuthUserBody {
            id: u.id.to_string(),
            email: u.email.clone(),
            username: u.username.clone(),
            name: u.display_name(),
            user_type: u.user_type.as_str(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            bio: u.bio.clone(),
            company_name: u.company_name.clone(),
            profile_image: u.profile_image.clone(),
            subscription_tier: u.subscription_tier.clone(),
            email_verified: u.email_verified,
            company_verified: u.company_verified,
            created_at: iso(u.created_at),
        }
    }
}
