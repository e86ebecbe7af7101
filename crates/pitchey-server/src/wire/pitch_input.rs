//! Reading a pitch body from the client: every field is accepted in camelCase or snake_case (and the
//! contract's other spellings), loosely typed values are coerced, unknown keys are ignored.

use crate::error::ApiError;
use axum::http::StatusCode;
use pitchey_core::catalog::{normalize_format, normalize_genre};
use pitchey_core::pitch::field_kind;
use pitchey_core::{FieldKind, PitchFields, PitchStatus};
use serde_json::{Map, Value};

/// A parsed pitch body: the editable fields plus a requested status (updates only).
#[derive(Debug, Clone, Default)]
pub struct PitchInput {
    /// The fields that were sent.
    pub fields: PitchFields,
    /// `status`, when sent.
    pub status: Option<PitchStatus>,
}

/// Spellings that are not plain camelCase of a column.
fn alias(key: &str) -> Option<&'static str> {
    Some(match key {
        "requireNDA" | "requiresNDA" | "requireNda" | "requires_nda" | "ndaRequired" => "require_nda",
        "budget" => "budget_range",
        "titleImageUrl" | "title_image_url" => "title_image",
        "pitchDeck" => "pitch_deck_url",
        "trailer" => "trailer_url",
        "script" => "script_url",
        "synopsis" => "short_synopsis",
        "description" => "long_synopsis",
        _ => return None,
    })
}

/// `shortSynopsis` → `short_synopsis`; runs of capitals are one word (`requireNDA` → `require_nda`).
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn invalid(col: &str, want: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        format!("Invalid request body: {col} must be {want}"),
    )
}

fn coerce(col: &str, kind: FieldKind, v: Value) -> Result<Option<Value>, ApiError> {
    Ok(Some(match (kind, v) {
        (_, Value::Null) => return Ok(None),
        (FieldKind::Text, Value::String(s)) => Value::String(s),
        (FieldKind::Text, Value::Number(n)) => Value::String(n.to_string()),
        (FieldKind::Text, Value::Bool(b)) => Value::String(b.to_string()),
        (FieldKind::Text, Value::Array(a)) => {
            // Themes and similar arrive as lists of strings in some forms.
            let parts: Option<Vec<String>> = a.into_iter().map(|x| x.as_str().map(str::to_owned)).collect();
            Value::String(parts.ok_or_else(|| invalid(col, "text"))?.join(", "))
        }
        (FieldKind::Text, _) => return Err(invalid(col, "text")),
        (FieldKind::Json, Value::String(s)) => {
            if s.trim().is_empty() {
                return Ok(None);
            }
            serde_json::from_str(&s).map_err(|_| invalid(col, "JSON"))?
        }
        (FieldKind::Json, v) => v,
        (FieldKind::Bool, Value::Bool(b)) => Value::Bool(b),
        (FieldKind::Bool, Value::String(s)) => match s.as_str() {
            "true" | "1" | "yes" => Value::Bool(true),
            "false" | "0" | "no" | "" => Value::Bool(false),
            _ => return Err(invalid(col, "true or false")),
        },
        (FieldKind::Bool, Value::Number(n)) => Value::Bool(n.as_f64().is_some_and(|x| x != 0.0)),
        (FieldKind::Bool, _) => return Err(invalid(col, "true or false")),
        (FieldKind::Float, Value::Number(n)) => Value::Number(n),
        (FieldKind::Float, Value::String(s)) => {
            let t = s.trim().replace([',', '$'], "");
            if t.is_empty() {
                return Ok(None);
            }
            let x: f64 = t.parse().map_err(|_| invalid(col, "a number"))?;
            serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(|| invalid(col, "a number"))?
        }
        (FieldKind::Float, _) => return Err(invalid(col, "a number")),
    }))
}

/// Parses a create or update body.
pub fn parse(body: Value) -> Result<PitchInput, ApiError> {
    let Value::Object(obj) = body else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "Invalid request body: expected a JSON object",
        ));
    };
    let mut cols = Map::new();
    let mut status = None;
    // Aliases first, so exact column names written later win (`short_synopsis` over `synopsis`).
    let mut entries: Vec<(String, Value)> = obj.into_iter().collect();
    entries.sort_by_key(|(k, _)| alias(k).is_none());
    for (key, v) in entries {
        if key == "status" {
            let s = v.as_str().ok_or_else(|| invalid("status", "a string"))?;
            status = Some(s.parse::<PitchStatus>().map_err(|_| ApiError::validation(format!("Unknown status {s:?}")))?);
            continue;
        }
        let col = alias(&key).map_or_else(|| snake(&key), str::to_owned);
        let Some(kind) = field_kind(&col) else {
            continue;
        };
        if let Some(v) = coerce(&col, kind, v)? {
            cols.insert(col, v);
        }
    }
    let mut fields: PitchFields = serde_json::from_value(Value::Object(cols))
        .map_err(|e| ApiError::validation(format!("Invalid request body: {e}")))?;
    if let Some(g) = &fields.genre {
        fields.genre = Some(normalize_genre(g));
    }
    if let Some(f) = &fields.format {
        fields.format = Some(normalize_format(f));
    }
    if let Some(s) = &fields.production_stage {
        fields.production_stage = Some(s.trim().to_lowercase());
    }
    Ok(PitchInput { fields, status })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snake_case_conversion() {
        assert_eq!(snake("shortSynopsis"), "short_synopsis");
        assert_eq!(snake("requireNDA"), "require_nda");
        assert_eq!(snake("titleImage"), "title_image");
        assert_eq!(snake("already_snake"), "already_snake");
        assert_eq!(snake("URLValue"), "url_value");
    }

    #[test]
    fn both_casings_and_loose_types() {
        let p = parse(json!({
            "title": "A Title", "shortSynopsis": "short", "requireNDA": true, "seeking_investment": "true",
            "estimatedBudget": "1,000,000", "characters": "[{\"name\":\"Ann\"}]", "themes": ["love", "loss"],
            "genre": "Adventure", "format": "TV Series", "unknownThing": 5, "status": "under_review",
            "budget": "1m-5m",
        }))
        .unwrap();
        let f = p.fields;
        assert_eq!(f.short_synopsis.as_deref(), Some("short"));
        assert_eq!(f.require_nda, Some(true));
        assert_eq!(f.seeking_investment, Some(true));
        assert_eq!(f.estimated_budget, Some(1_000_000.0));
        assert_eq!(f.characters, Some(json!([{"name": "Ann"}])));
        assert_eq!(f.themes.as_deref(), Some("love, loss"));
        assert_eq!(f.genre.as_deref(), Some("action"));
        assert_eq!(f.format.as_deref(), Some("tv"));
        assert_eq!(f.budget_range.as_deref(), Some("1m-5m"));
        assert_eq!(p.status, Some(PitchStatus::UnderReview));
    }

    #[test]
    fn exact_names_beat_aliases_and_bad_types_fail() {
        let p = parse(json!({"synopsis": "alias", "short_synopsis": "exact"})).unwrap();
        assert_eq!(p.fields.short_synopsis.as_deref(), Some("exact"));
        assert!(parse(json!({"estimatedBudget": "lots"})).is_err());
        assert!(parse(json!({"title": {"x": 1}})).is_err());
        assert!(parse(json!({"status": "deleted"})).is_err());
        assert!(parse(json!([1, 2])).is_err());
    }
}
