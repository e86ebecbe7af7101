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
/// refers to one copy of each part ([`superset`], [`raw`]) instead of building a tree with copies.
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
/// fields under `data` and at the top level (§3.3: clients read either). `fields` (an object) is serialized
/// once and its bytes written twice: serializing a page of pitch cards is most of building the response.
pub fn superset(fields: &impl Serialize) -> ApiResult<Serialized> {
    let inner = serde_json::to_vec(fields).map_err(ApiError::internal)?;
    let (Some(b'{'), Some(b'}')) = (inner.first(), inner.last()) else {
        return Err(ApiError::internal("a superset's fields must be a JSON object"));
    };
    const HEAD: &[u8] = br#"{"success":true,"data":"#;
    let mut out = Vec::with_capacity(HEAD.len() + 2 * inner.len() + 1);
    out.extend_from_slice(HEAD);
    out.extend_from_slice(&inner);
    if inner.len() > 2 {
        // `,` then the fields and the closing brace: the object without its opening brace.
        out.push(b',');
        out.extend_from_slice(&inner[1..]);
    } else {
        out.push(b'}');
    }
    Ok(Serialized(Bytes::from(out)))
}

/// `v` serialized once, to be written in several places of a body as is.
pub fn raw(v: &impl Serialize) -> ApiResult<Box<serde_json::value::RawValue>> {
    serde_json::value::to_raw_value(v).map_err(ApiError::internal)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(s: Serialized) -> Value {
        serde_json::from_slice(&s.0).expect("valid JSON")
    }

    #[test]
    fn superset_repeats_the_fields_under_data_and_at_the_top() {
        let fields = json!({"items": [{"id": 1, "title": "A \"quoted\" }{ title"}], "total": 1, "tab": "new"});
        let body = parsed(superset(&fields).unwrap());
        assert_eq!(body, json!({"success": true, "data": fields, "items": fields["items"], "total": 1, "tab": "new"}));
    }

    #[test]
    fn superset_of_no_fields_and_of_a_non_object() {
        assert_eq!(parsed(superset(&json!({})).unwrap()), json!({"success": true, "data": {}}));
        assert!(superset(&json!([1, 2])).is_err(), "an array has no fields to repeat");
        assert!(superset(&"text").is_err());
    }
}
