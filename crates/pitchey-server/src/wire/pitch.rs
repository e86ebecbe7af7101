//! Pitch JSON (contract §3.2–3.4). Lists and details emit each field in snake_case and camelCase, as the
//! client reads both. What is shown follows the access rule: protected fields come only from a
//! [`ProtectedFields`] value, which callers fetch only when access allows; the creator's identity is
//! replaced by the contract's placeholder on NDA pitches the viewer cannot unlock.

use super::iso;
use pitchey_core::PitchAccess;
use pitchey_store::{PitchRow, ProtectedFields};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

/// The name shown instead of a hidden creator.
pub const HIDDEN_CREATOR: &str = "Hidden (NDA Required)";

/// How much of a pitch to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// List cards: no long texts.
    Card,
    /// Detail pages: every public field.
    Full,
}

/// A pitch as a viewer with `access` sees it, serialized field by field: nothing is copied, so a page of
/// cards costs one pass over the rows. This is the one list of a pitch's JSON fields; [`pitch_json`] is
/// the same as a map, for responses that add fields of their own.
pub struct PitchView<'a> {
    row: &'a PitchRow,
    access: PitchAccess,
    protected: Option<&'a ProtectedFields>,
    detail: Detail,
    kind: Option<&'static str>,
}

impl<'a> PitchView<'a> {
    /// `protected` is shown only when `access.protected()`.
    pub fn new(row: &'a PitchRow, access: PitchAccess, protected: Option<&'a ProtectedFields>, detail: Detail) -> Self {
        PitchView { row, access, protected: protected.filter(|_| access.protected()), detail, kind: None }
    }

    /// The public card of `row`.
    pub fn card(row: &'a PitchRow) -> Self {
        PitchView::new(row, PitchAccess::Public, None, Detail::Card)
    }

    /// The same view with a `type` field (search results tag their pitches `"pitch"`; a pitch has no
    /// `type` of its own).
    pub fn tagged(self, kind: &'static str) -> Self {
        PitchView { kind: Some(kind), ..self }
    }
}

/// Writes `v` under its snake_case and its camelCase key.
fn both<M: SerializeMap, V: Serialize + ?Sized>(m: &mut M, snake: &str, camel: &str, v: &V) -> Result<(), M::Error> {
    m.serialize_entry(snake, v)?;
    m.serialize_entry(camel, v)
}

/// The `creator` object of a pitch whose creator is shown.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatorBody<'a> {
    id: i64,
    name: &'a str,
    username: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    user_type: &'static str,
    company_name: Option<&'a str>,
    profile_image: Option<&'a str>,
    email: Option<&'a str>,
}

/// The `creator` object of a pitch whose creator is hidden.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HiddenCreatorBody {
    id: Option<i64>,
    name: &'static str,
    username: Option<&'static str>,
    #[serde(rename = "type")]
    kind: Option<&'static str>,
    user_type: Option<&'static str>,
    email: Option<&'static str>,
}

/// `protectedContent`: the protected fields in camelCase.
struct ProtectedBody<'a>(&'a ProtectedFields);

impl Serialize for ProtectedBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pf = self.0;
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("budgetBreakdown", &pf.budget_breakdown)?;
        m.serialize_entry("productionTimeline", &pf.production_timeline)?;
        m.serialize_entry("attachedTalent", &pf.attached_talent)?;
        m.serialize_entry("financialProjections", &pf.financial_projections)?;
        m.serialize_entry("distributionPlan", &pf.distribution_plan)?;
        m.serialize_entry("marketingStrategy", &pf.marketing_strategy)?;
        m.serialize_entry("privateAttachments", &pf.private_attachments)?;
        m.serialize_entry("contactDetails", &pf.contact_details)?;
        m.serialize_entry("revenueModel", &pf.revenue_model)?;
        m.end()
    }
}

impl Serialize for PitchView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.row;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &p.id)?;
        let show_creator = self.access.shows_creator(p.require_nda);
        let owner = show_creator.then_some(p.user_id);
        both(&mut m, "user_id", "userId", &owner)?;
        both(&mut m, "creator_id", "creatorId", &owner)?;
        m.serialize_entry("title", &p.title)?;
        m.serialize_entry("logline", &p.logline)?;
        m.serialize_entry("tagline", &p.tagline)?;
        m.serialize_entry("genre", &p.genre)?;
        m.serialize_entry("format", &p.format)?;
        both(&mut m, "format_category", "formatCategory", &p.format_category)?;
        both(&mut m, "format_subtype", "formatSubtype", &p.format_subtype)?;
        both(&mut m, "short_synopsis", "shortSynopsis", &p.short_synopsis)?;
        both(&mut m, "target_audience", "targetAudience", &p.target_audience)?;
        m.serialize_entry("characters", &p.characters)?;
        m.serialize_entry("themes", &p.themes)?;
        both(&mut m, "world_description", "worldDescription", &p.world_description)?;
        both(&mut m, "tone_and_style", "toneAndStyle", &p.tone_and_style)?;
        m.serialize_entry("comps", &p.comps)?;
        both(&mut m, "production_location", "productionLocation", &p.production_location)?;
        both(&mut m, "development_stage", "developmentStage", &p.development_stage)?;
        both(&mut m, "production_stage", "productionStage", &p.production_stage)?;
        both(&mut m, "production_timeline", "productionTimeline", &p.production_timeline)?;
        both(&mut m, "budget_range", "budgetRange", &p.budget_range)?;
        m.serialize_entry("budget", &p.budget_range)?;
        both(&mut m, "budget_bracket", "budgetBracket", &p.budget_bracket)?;
        both(&mut m, "estimated_budget", "estimatedBudget", &p.estimated_budget)?;
        both(&mut m, "seeking_investment", "seekingInvestment", &p.seeking_investment)?;
        both(&mut m, "require_nda", "requireNDA", &p.require_nda)?;
        m.serialize_entry("requiresNDA", &p.require_nda)?;
        both(&mut m, "title_image", "titleImage", &p.title_image)?;
        both(&mut m, "thumbnail_url", "thumbnailUrl", &p.thumbnail_url)?;
        both(&mut m, "poster_url", "posterUrl", &p.poster_url)?;
        both(&mut m, "trailer_url", "trailerUrl", &p.trailer_url)?;
        both(&mut m, "video_url", "videoUrl", &p.video_url)?;
        both(&mut m, "visibility_settings", "visibilitySettings", &p.visibility_settings)?;
        m.serialize_entry("status", p.status.as_str())?;
        m.serialize_entry("visibility", p.visibility.as_str())?;
        both(&mut m, "published_at", "publishedAt", &p.published_at.map(iso))?;
        both(&mut m, "view_count", "viewCount", &p.view_count)?;
        both(&mut m, "like_count", "likeCount", &p.like_count)?;
        both(&mut m, "nda_count", "ndaCount", &p.nda_count)?;
        both(&mut m, "save_count", "saveCount", &p.save_count)?;
        both(&mut m, "created_at", "createdAt", &iso(p.created_at))?;
        both(&mut m, "updated_at", "updatedAt", &iso(p.updated_at))?;
        if show_creator {
            let name = p.creator_name();
            m.serialize_entry("creator_name", &name)?;
            m.serialize_entry("creator_username", &p.creator_username)?;
            m.serialize_entry("creator_type", p.creator_type.as_str())?;
            m.serialize_entry("creator_company", &p.creator_company)?;
            m.serialize_entry("company_name", &p.creator_company)?;
            m.serialize_entry("creator_avatar", &p.creator_avatar)?;
            let creator = CreatorBody {
                id: p.user_id,
                name: &name,
                username: &p.creator_username,
                kind: p.creator_type.as_str(),
                user_type: p.creator_type.as_str(),
                company_name: p.creator_company.as_deref(),
                profile_image: p.creator_avatar.as_deref(),
                email: None,
            };
            m.serialize_entry("creator", &creator)?;
        } else {
            m.serialize_entry("creator_name", HIDDEN_CREATOR)?;
            for k in ["creator_username", "creator_type", "creator_company", "company_name", "creator_avatar"] {
                m.serialize_entry(k, &())?;
            }
            let creator = HiddenCreatorBody {
                id: None,
                name: HIDDEN_CREATOR,
                username: None,
                kind: None,
                user_type: None,
                email: None,
            };
            m.serialize_entry("creator", &creator)?;
        }
        if self.detail == Detail::Full {
            both(&mut m, "custom_format", "customFormat", &p.custom_format)?;
            both(&mut m, "long_synopsis", "longSynopsis", &p.long_synopsis)?;
            m.serialize_entry("synopsis", &p.long_synopsis.as_ref().or(p.short_synopsis.as_ref()))?;
            m.serialize_entry("opener", &p.opener)?;
            m.serialize_entry("premise", &p.premise)?;
            both(&mut m, "episode_breakdown", "episodeBreakdown", &p.episode_breakdown)?;
            both(&mut m, "story_breakdown", "storyBreakdown", &p.story_breakdown)?;
            both(&mut m, "why_now", "whyNow", &p.why_now)?;
            both(&mut m, "development_stage_other", "developmentStageOther", &p.development_stage_other)?;
            both(&mut m, "lookbook_url", "lookbookUrl", &p.lookbook_url)?;
            both(&mut m, "video_platform", "videoPlatform", &p.video_platform)?;
            both(&mut m, "additional_media", "additionalMedia", &p.additional_media)?;
            both(&mut m, "ai_used", "aiUsed", &p.ai_used)?;
        }
        if let Some(pf) = self.protected {
            // Flat snake_case columns (the signed-in client infers access from them), camelCase URLs, and
            // the `protectedContent` object.
            m.serialize_entry("budget_breakdown", &pf.budget_breakdown)?;
            m.serialize_entry("attached_talent", &pf.attached_talent)?;
            m.serialize_entry("financial_projections", &pf.financial_projections)?;
            m.serialize_entry("distribution_plan", &pf.distribution_plan)?;
            m.serialize_entry("marketing_strategy", &pf.marketing_strategy)?;
            m.serialize_entry("revenue_model", &pf.revenue_model)?;
            m.serialize_entry("private_attachments", &pf.private_attachments)?;
            m.serialize_entry("contact_details", &pf.contact_details)?;
            both(&mut m, "pitch_deck_url", "pitchDeckUrl", &pf.pitch_deck_url)?;
            both(&mut m, "script_url", "scriptUrl", &pf.script_url)?;
            both(&mut m, "video_password", "videoPassword", &pf.video_password)?;
            m.serialize_entry("protectedContent", &ProtectedBody(pf))?;
        }
        if let Some(kind) = self.kind {
            m.serialize_entry("type", kind)?;
        }
        m.end()
    }
}

/// A pitch as a JSON map for a viewer with `access` ([`PitchView`]); `protected` is used only when
/// `access.protected()`.
pub fn pitch_json(
    p: &PitchRow,
    access: PitchAccess,
    protected: Option<&ProtectedFields>,
    detail: Detail,
) -> Map<String, Value> {
    match serde_json::to_value(PitchView::new(p, access, protected, detail)) {
        Ok(Value::Object(m)) => m,
        // A map with string keys always converts to an object; this is only reachable through a bug.
        other => {
            tracing::error!(pitch = p.id, result = ?other.map(|_| "not an object"), "pitch view did not convert to a map");
            Map::new()
        }
    }
}

/// Cards for a public list: everyone sees the public view (the owner and NDA holders included).
pub fn public_views(rows: &[PitchRow]) -> Vec<PitchView<'_>> {
    rows.iter().map(PitchView::card).collect()
}

/// [`public_views`] as JSON values, for responses that add fields to each card.
pub fn public_cards(rows: &[PitchRow]) -> Vec<Value> {
    rows.iter().map(|p| Value::Object(pitch_json(p, PitchAccess::Public, None, Detail::Card))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitchey_core::{PitchStatus, UserType, Visibility};
    use serde_json::json;

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    fn time(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().unwrap()
    }

    /// A pitch with every optional field set, its creator a production company.
    fn row() -> PitchRow {
        PitchRow {
            id: 7,
            user_id: 3,
            title: "The \"Lighthouse\"".into(),
            logline: "A keeper 🌊".into(),
            tagline: some("t"),
            genre: "drama".into(),
            format: some("film"),
            format_category: some("c"),
            format_subtype: some("s"),
            custom_format: some("x"),
            short_synopsis: some("short"),
            long_synopsis: some("long"),
            opener: some("o"),
            premise: some("p"),
            target_audience: some("a"),
            characters: Some(json!([{"name": "A"}])),
            themes: some("th"),
            world_description: some("w"),
            episode_breakdown: Some(json!([1, 2])),
            tone_and_style: some("ts"),
            comps: some("cm"),
            story_breakdown: some("sb"),
            why_now: some("wn"),
            production_location: some("pl"),
            development_stage: some("ds"),
            development_stage_other: some("dso"),
            production_stage: "development".into(),
            production_timeline: some("pt"),
            budget_range: some("1m-5m"),
            budget_bracket: some("b"),
            estimated_budget: Some(1.5e6),
            seeking_investment: true,
            require_nda: true,
            title_image: some("ti"),
            thumbnail_url: some("tu"),
            poster_url: some("pu"),
            lookbook_url: some("lu"),
            trailer_url: some("tr"),
            video_url: some("vu"),
            video_platform: some("vp"),
            additional_media: Some(json!({"k": 1})),
            visibility_settings: Some(json!({"v": true})),
            ai_used: false,
            status: PitchStatus::Published,
            visibility: Visibility::Public,
            published_at: Some(time("2026-01-02T03:04:05Z")),
            view_count: 10,
            like_count: 2,
            nda_count: 1,
            save_count: 4,
            created_at: time("2026-01-01T00:00:00Z"),
            updated_at: time("2026-01-03T00:00:00Z"),
            creator_username: "stellar".into(),
            creator_first_name: some("S"),
            creator_last_name: some("P"),
            creator_company: some("Stellar"),
            creator_type: UserType::Production,
            creator_avatar: some("av"),
        }
    }

    fn protected() -> ProtectedFields {
        ProtectedFields {
            pitch_deck_url: some("deck"),
            script_url: some("script"),
            video_password: some("pw"),
            budget_breakdown: Some(json!({"a": 1})),
            attached_talent: Some(json!(["t"])),
            financial_projections: Some(json!({"f": 2})),
            distribution_plan: some("d"),
            marketing_strategy: some("m"),
            revenue_model: some("r"),
            private_attachments: Some(json!([])),
            contact_details: Some(json!({})),
            production_timeline: some("pt"),
        }
    }

    #[test]
    fn no_key_is_written_twice() {
        let (r, pf) = (row(), protected());
        for access in [PitchAccess::Public, PitchAccess::Owner] {
            for detail in [Detail::Card, Detail::Full] {
                let view = PitchView::new(&r, access, Some(&pf), detail).tagged("pitch");
                let text = serde_json::to_string(&view).unwrap();
                let parsed: Map<String, Value> = serde_json::from_str(&text).unwrap();
                // Parsing keeps one entry per key: the text re-serialized from it is shorter if a key repeated.
                assert_eq!(serde_json::to_string(&parsed).unwrap().len(), text.len(), "{access:?} {detail:?}");
            }
        }
    }

    #[test]
    fn the_view_follows_the_access_rule() {
        let (r, pf) = (row(), protected());
        let public = pitch_json(&r, PitchAccess::Public, Some(&pf), Detail::Full);
        assert!(!public.contains_key("video_password") && !public.contains_key("protectedContent"));
        assert_eq!(public["creator_name"], HIDDEN_CREATOR);
        assert_eq!(public["userId"], Value::Null);
        let owner = pitch_json(&r, PitchAccess::Owner, Some(&pf), Detail::Full);
        assert_eq!(owner["videoPassword"], "pw");
        assert_eq!(owner["protectedContent"]["productionTimeline"], "pt");
        assert_eq!(owner["creator"]["name"], "Stellar");
        assert_eq!(owner["creator"]["type"], "production");
        assert_eq!(owner["synopsis"], "long");
        assert_eq!(owner["published_at"], "2026-01-02T03:04:05.000Z");
        let card = pitch_json(&r, PitchAccess::Owner, Some(&pf), Detail::Card);
        assert!(!card.contains_key("long_synopsis") && card.contains_key("protectedContent"));
    }
}
