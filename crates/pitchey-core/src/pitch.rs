//! The editable fields of a pitch, listed once: the create form, partial updates, the store's column list
//! and the demo data generator all use [`PitchFields`].

use crate::validate::ValidationError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The storage kind of one pitch field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// A JSON document (array or object).
    Json,
    /// True or false.
    Bool,
    /// A number.
    Float,
}

/// A borrowed field value, as handed to the store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldRef<'a> {
    /// Free text.
    Text(&'a str),
    /// A JSON document.
    Json(&'a Value),
    /// True or false.
    Bool(bool),
    /// A number.
    Float(f64),
}

macro_rules! field_ty {
    (Text) => {
        String
    };
    (Json) => {
        Value
    };
    (Bool) => {
        bool
    };
    (Float) => {
        f64
    };
}

macro_rules! pitch_fields {
    ($( $(#[$m:meta])* $name:ident : $kind:ident ),* $(,)?) => {
        /// Editable pitch fields; `None` means "not given" (on update: keep the stored value).
        /// Field names are the database columns (snake_case).
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct PitchFields {
            $( $(#[$m])* pub $name: Option<field_ty!($kind)>, )*
        }

        impl PitchFields {
            /// Every field: its column name and kind.
            pub const COLUMNS: &'static [(&'static str, FieldKind)] = &[$( (stringify!($name), FieldKind::$kind) ),*];

            /// Calls `f` for every field that is set, in declaration order.
            pub fn for_each_set<'a>(&'a self, mut f: impl FnMut(&'static str, FieldRef<'a>)) {
                $( if let Some(v) = &self.$name { f(stringify!($name), pitch_fields!(@ref $kind, v)); } )*
            }
        }
    };
    (@ref Text, $v:ident) => { FieldRef::Text($v.as_str()) };
    (@ref Json, $v:ident) => { FieldRef::Json($v) };
    (@ref Bool, $v:ident) => { FieldRef::Bool(*$v) };
    (@ref Float, $v:ident) => { FieldRef::Float(*$v) };
}

pitch_fields! {
    /// Working title (3–200 characters).
    title: Text,
    /// One-sentence pitch (10–500 characters).
    logline: Text,
    /// Marketing tagline.
    tagline: Text,
    /// Stored genre value (see [`crate::catalog::normalize_genre`]).
    genre: Text,
    /// Stored format value (see [`crate::catalog::normalize_format`]).
    format: Text,
    /// Format category label.
    format_category: Text,
    /// Format subtype.
    format_subtype: Text,
    /// Free-text format when none fits.
    custom_format: Text,
    /// Short synopsis.
    short_synopsis: Text,
    /// Long synopsis.
    long_synopsis: Text,
    /// Opening scene.
    opener: Text,
    /// Premise.
    premise: Text,
    /// Target audience.
    target_audience: Text,
    /// Characters: `[{name, description, age?, gender?, actor?, displayOrder}]`.
    characters: Json,
    /// Themes.
    themes: Text,
    /// World description.
    world_description: Text,
    /// Episodes: `[{episodeNumber, title, synopsis}]`.
    episode_breakdown: Json,
    /// Tone and style (≤ 2400).
    tone_and_style: Text,
    /// Comparable titles (≤ 2400).
    comps: Text,
    /// Story breakdown (≤ 12000).
    story_breakdown: Text,
    /// Why now (≤ 1800).
    why_now: Text,
    /// Production location (≤ 600).
    production_location: Text,
    /// Development stage.
    development_stage: Text,
    /// Development stage when "other".
    development_stage_other: Text,
    /// Production stage.
    production_stage: Text,
    /// Production timeline.
    production_timeline: Text,
    /// Budget range value (e.g. `1m-5m`).
    budget_range: Text,
    /// Budget bracket label.
    budget_bracket: Text,
    /// Estimated budget in dollars.
    estimated_budget: Float,
    /// Is the creator seeking investment?
    seeking_investment: Bool,
    /// Is protected content behind an NDA?
    require_nda: Bool,
    /// Did the creator use AI?
    ai_used: Bool,
    /// Title image URL.
    title_image: Text,
    /// Thumbnail URL.
    thumbnail_url: Text,
    /// Poster URL.
    poster_url: Text,
    /// Lookbook URL.
    lookbook_url: Text,
    /// Pitch deck URL (protected).
    pitch_deck_url: Text,
    /// Script URL (protected).
    script_url: Text,
    /// Trailer URL.
    trailer_url: Text,
    /// Video URL.
    video_url: Text,
    /// Video platform name.
    video_platform: Text,
    /// Additional media: `[{type, url, title, description?, uploadedAt}]`.
    additional_media: Json,
    /// Which sections the creator wants shown: `{showShortSynopsis, showCharacters, showBudget, showMedia}`.
    visibility_settings: Json,
    /// Video password (protected).
    video_password: Text,
    /// Budget breakdown (protected).
    budget_breakdown: Json,
    /// Attached talent (protected).
    attached_talent: Json,
    /// Financial projections (protected).
    financial_projections: Json,
    /// Distribution plan (protected).
    distribution_plan: Text,
    /// Marketing strategy (protected).
    marketing_strategy: Text,
    /// Revenue model (protected).
    revenue_model: Text,
    /// Private attachments: `[{url, name, type, size?, mimeType?}]` (protected).
    private_attachments: Json,
    /// Contact details (protected).
    contact_details: Json,
}

/// The kind of a field, by column name.
pub fn field_kind(column: &str) -> Option<FieldKind> {
    PitchFields::COLUMNS.iter().find(|(c, _)| *c == column).map(|(_, k)| *k)
}

const URL_FIELDS: &[&str] = &[
    "title_image",
    "thumbnail_url",
    "poster_url",
    "lookbook_url",
    "pitch_deck_url",
    "script_url",
    "trailer_url",
    "video_url",
];

fn max_len(column: &str) -> usize {
    match column {
        "title" => 200,
        "logline" => 500,
        "tone_and_style" | "comps" => 2400,
        "story_breakdown" => 12000,
        "why_now" => 1800,
        "production_location" => 600,
        "genre" | "format" | "format_category" | "format_subtype" | "development_stage" | "production_stage"
        | "budget_range" | "budget_bracket" | "video_platform" => 100,
        c if URL_FIELDS.contains(&c) => 2048,
        _ => 20000,
    }
}

impl PitchFields {
    /// Checks the fields that are set: lengths, URL schemes, numbers and JSON shapes.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut err: Option<ValidationError> = None;
        self.for_each_set(|col, v| {
            if err.is_some() {
                return;
            }
            let problem = match v {
                FieldRef::Text(s) => {
                    let n = s.chars().count();
                    if n > max_len(col) {
                        Some(format!("{col} must be at most {} characters", max_len(col)))
                    } else if col == "title" && n < 3 {
                        Some("title must be at least 3 characters".to_owned())
                    } else if col == "logline" && n < 10 {
                        Some("logline must be at least 10 characters".to_owned())
                    } else if col == "genre" && s.trim().is_empty() {
                        Some("genre is required".to_owned())
                    } else if URL_FIELDS.contains(&col) && !s.is_empty() && !is_safe_url(s) {
                        Some(format!("{col} must be an http(s) URL or a path"))
                    } else {
                        None
                    }
                }
                FieldRef::Float(x) if !x.is_finite() || x < 0.0 => Some(format!("{col} must be a non-negative number")),
                FieldRef::Json(j) if serde_json::to_string(j).map_or(0, |s| s.len()) > 100_000 => {
                    Some(format!("{col} is too large"))
                }
                _ => None,
            };
            err = problem.map(|p| ValidationError::new(format!("Pitch validation failed: {p}")));
        });
        err.map_or(Ok(()), Err)
    }

    /// Checks a new pitch: the update rules plus the required title, logline and genre.
    pub fn validate_new(&self) -> Result<(), ValidationError> {
        for (name, v) in [("title", &self.title), ("logline", &self.logline), ("genre", &self.genre)] {
            if v.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(ValidationError::new(format!("Pitch validation failed: {name} is required")));
            }
        }
        self.validate()
    }
}

/// Only web URLs and same-site paths: never `javascript:` or `data:` links that a page would render.
fn is_safe_url(s: &str) -> bool {
    let l = s.trim().to_ascii_lowercase();
    l.starts_with("https://") || l.starts_with("http://") || (l.starts_with('/') && !l.starts_with("//"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> PitchFields {
        PitchFields {
            title: Some("The Last Ferry".into()),
            logline: Some("A ferry captain must choose between two islands.".into()),
            genre: Some("drama".into()),
            ..Default::default()
        }
    }

    #[test]
    fn new_pitch_rules() {
        assert!(valid().validate_new().is_ok());
        let mut p = valid();
        p.title = Some("ab".into());
        assert!(p.validate_new().is_err());
        let mut p = valid();
        p.logline = None;
        assert!(p.validate_new().is_err());
        let mut p = valid();
        p.trailer_url = Some("javascript:alert(1)".into());
        assert!(p.validate_new().is_err());
        let mut p = valid();
        p.estimated_budget = Some(f64::NAN);
        assert!(p.validate().is_err());
        let mut p = valid();
        p.story_breakdown = Some("x".repeat(12001));
        assert!(p.validate().is_err());
    }

    #[test]
    fn visits_set_fields_only() {
        let mut seen = Vec::new();
        valid().for_each_set(|c, _| seen.push(c));
        assert_eq!(seen, vec!["title", "logline", "genre"]);
        assert_eq!(field_kind("characters"), Some(FieldKind::Json));
        assert_eq!(field_kind("nope"), None);
    }
}
