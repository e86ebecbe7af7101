//! Response shapes shared across features (contract §0.4–0.6). Quirks the web client depends on — a
//! top-level `user`, string ids on auth user objects — are handled here and in each feature's response
//! types, not in services.

pub mod pitch;
pub mod pitch_input;

use axum::Json;
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
