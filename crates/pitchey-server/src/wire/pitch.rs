//! Pitch JSON (contract §3.2–3.4). Lists and details emit each field in snake_case and camelCase, as the
//! client reads both. What is shown follows the access rule: protected fields come only from a
//! [`ProtectedFields`] value, which callers fetch only when access allows; the creator's identity is
//! replaced by the contract's placeholder on NDA pitches the viewer cannot unlock.

use super::iso;
use pitchey_core::PitchAccess;
use pitchey_store::{PitchRow, ProtectedFields};
use serde_json::{Map, Value, json};

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

struct Obj(Map<String, Value>);

impl Obj {
    fn both(&mut self, snake: &str, camel: &str, v: impl Into<Value>) {
        let v = v.into();
        self.0.insert(snake.to_owned(), v.clone());
        self.0.insert(camel.to_owned(), v);
    }
    fn one(&mut self, key: &str, v: impl Into<Value>) {
        self.0.insert(key.to_owned(), v.into());
    }
}

/// A pitch as JSON for a viewer with `access`; `protected` must be `Some` only when `access.protected()`.
pub fn pitch_json(
    p: &PitchRow,
    access: PitchAccess,
    protected: Option<&ProtectedFields>,
    detail: Detail,
) -> Map<String, Value> {
    let mut o = Obj(Map::with_capacity(96));
    o.one("id", p.id);
    let show_creator = access.shows_creator(p.require_nda);
    let owner = show_creator.then_some(p.user_id);
    o.both("user_id", "userId", owner);
    o.both("creator_id", "creatorId", owner);
    o.one("title", p.title.as_str());
    o.one("logline", p.logline.as_str());
    o.one("tagline", p.tagline.clone());
    o.one("genre", p.genre.as_str());
    o.one("format", p.format.clone());
    o.both("format_category", "formatCategory", p.format_category.clone());
    o.both("format_subtype", "formatSubtype", p.format_subtype.clone());
    o.both("short_synopsis", "shortSynopsis", p.short_synopsis.clone());
    o.both("target_audience", "targetAudience", p.target_audience.clone());
    o.one("characters", p.characters.clone());
    o.one("themes", p.themes.clone());
    o.both("world_description", "worldDescription", p.world_description.clone());
    o.both("tone_and_style", "toneAndStyle", p.tone_and_style.clone());
    o.one("comps", p.comps.clone());
    o.both("production_location", "productionLocation", p.production_location.clone());
    o.both("development_stage", "developmentStage", p.development_stage.clone());
    o.both("production_stage", "productionStage", p.production_stage.as_str());
    o.both("production_timeline", "productionTimeline", p.production_timeline.clone());
    o.both("budget_range", "budgetRange", p.budget_range.clone());
    o.one("budget", p.budget_range.clone());
    o.both("budget_bracket", "budgetBracket", p.budget_bracket.clone());
    o.both("estimated_budget", "estimatedBudget", p.estimated_budget);
    o.both("seeking_investment", "seekingInvestment", p.seeking_investment);
    o.both("require_nda", "requireNDA", p.require_nda);
    o.one("requiresNDA", p.require_nda);
    o.both("title_image", "titleImage", p.title_image.clone());
    o.both("thumbnail_url", "thumbnailUrl", p.thumbnail_url.clone());
    o.both("poster_url", "posterUrl", p.poster_url.clone());
    o.both("trailer_url", "trailerUrl", p.trailer_url.clone());
    o.both("video_url", "videoUrl", p.video_url.clone());
    o.both("visibility_settings", "visibilitySettings", p.visibility_settings.clone());
    o.one("status", p.status.as_str());
    o.one("visibility", p.visibility.as_str());
    o.both("published_at", "publishedAt", p.published_at.map(iso));
    o.both("view_count", "viewCount", p.view_count);
    o.both("like_count", "likeCount", p.like_count);
    o.both("nda_count", "ndaCount", p.nda_count);
    o.both("save_count", "saveCount", p.save_count);
    o.both("created_at", "createdAt", iso(p.created_at));
    o.both("updated_at", "updatedAt", iso(p.updated_at));
    if show_creator {
        let name = p.creator_name();
        o.one("creator_name", name.as_str());
        o.one("creator_username", p.creator_username.as_str());
        o.one("creator_type", p.creator_type.as_str());
        o.one("creator_company", p.creator_company.clone());
        o.one("company_name", p.creator_company.clone());
        o.one("creator_avatar", p.creator_avatar.clone());
        o.one(
            "creator",
            json!({
                "id": p.user_id, "name": name, "username": p.creator_username, "type": p.creator_type.as_str(),
                "userType": p.creator_type.as_str(), "companyName": p.creator_company,
                "profileImage": p.creator_avatar, "email": null,
            }),
        );
    } else {
        o.one("creator_name", HIDDEN_CREATOR);
        for k in ["creator_username", "creator_type", "creator_company", "company_name", "creator_avatar"] {
            o.one(k, Value::Null);
        }
        o.one(
            "creator",
            json!({ "id": null, "name": HIDDEN_CREATOR, "username": null, "type": null, "userType": null, "email": null }),
        );
    }
    if detail == Detail::Full {
        o.both("custom_format", "customFormat", p.custom_format.clone());
        o.both("long_synopsis", "longSynopsis", p.long_synopsis.clone());
        o.one("synopsis", p.long_synopsis.clone().or_else(|| p.short_synopsis.clone()));
        o.one("opener", p.opener.clone());
        o.one("premise", p.premise.clone());
        o.both("episode_breakdown", "episodeBreakdown", p.episode_breakdown.clone());
        o.both("story_breakdown", "storyBreakdown", p.story_breakdown.clone());
        o.both("why_now", "whyNow", p.why_now.clone());
        o.both("development_stage_other", "developmentStageOther", p.development_stage_other.clone());
        o.both("lookbook_url", "lookbookUrl", p.lookbook_url.clone());
        o.both("video_platform", "videoPlatform", p.video_platform.clone());
        o.both("additional_media", "additionalMedia", p.additional_media.clone());
        o.both("ai_used", "aiUsed", p.ai_used);
    }
    if let Some(pf) = protected.filter(|_| access.protected()) {
        add_protected(&mut o, pf);
    }
    o.0
}

/// Adds the protected fields: flat snake_case columns (the signed-in client infers access from them),
/// camelCase URLs, and the `protectedContent` object.
fn add_protected(o: &mut Obj, pf: &ProtectedFields) {
    o.one("budget_breakdown", pf.budget_breakdown.clone());
    o.one("attached_talent", pf.attached_talent.clone());
    o.one("financial_projections", pf.financial_projections.clone());
    o.one("distribution_plan", pf.distribution_plan.clone());
    o.one("marketing_strategy", pf.marketing_strategy.clone());
    o.one("revenue_model", pf.revenue_model.clone());
    o.one("private_attachments", pf.private_attachments.clone());
    o.one("contact_details", pf.contact_details.clone());
    o.both("pitch_deck_url", "pitchDeckUrl", pf.pitch_deck_url.clone());
    o.both("script_url", "scriptUrl", pf.script_url.clone());
    o.both("video_password", "videoPassword", pf.video_password.clone());
    o.one(
        "protectedContent",
        json!({
            "budgetBreakdown": pf.budget_breakdown, "productionTimeline": pf.production_timeline,
            "attachedTalent": pf.attached_talent, "financialProjections": pf.financial_projections,
            "distributionPlan": pf.distribution_plan, "marketingStrategy": pf.marketing_strategy,
            "privateAttachments": pf.private_attachments, "contactDetails": pf.contact_details,
            "revenueModel": pf.revenue_model,
        }),
    );
}

/// Cards for a public list: everyone sees the public view (the owner and NDA holders included).
pub fn public_cards(rows: &[PitchRow]) -> Vec<Value> {
    rows.iter().map(|p| Value::Object(pitch_json(p, PitchAccess::Public, None, Detail::Card))).collect()
}
