//! The marketplace's fixed vocabularies (contract §10): the lists the client loads from `/api/config/*`, and
//! the mapping from the labels it shows to the values stored on a pitch.

/// Genre labels offered by the create form and `/api/config/genres`.
pub const GENRES: &[&str] = &[
    "Abstract / Non-Narrative",
    "Action",
    "Action-Comedy",
    "Action-Thriller",
    "Adventure",
    "Animation",
    "Avant-Garde",
    "Biographical Documentary",
    "Biographical Drama (Biopic)",
    "Comedy",
    "Coming-of-Age",
    "Crime Drama",
    "Crime Thriller",
    "Dramedy",
    "Documentary",
    "Docudrama",
    "Essay Film",
    "Experimental Documentary",
    "Family / Kids",
    "Fantasy",
    "Fantasy Adventure",
    "Historical Drama",
    "Historical Fiction",
    "Horror",
    "Hybrid Experimental",
    "Meta-Cinema",
    "Mockumentary",
    "Musical",
    "Musical Drama",
    "Mystery Thriller",
    "Noir / Neo-Noir",
    "Parody / Spoof",
    "Performance Film",
    "Period Piece",
    "Political Drama",
    "Political Thriller",
    "Psychological Thriller",
    "Reality-Drama",
    "Romance",
    "Romantic Comedy (Rom-Com)",
    "Romantic Drama",
    "Satire",
    "Science Fiction (Sci-Fi)",
    "Sci-Fi Horror",
    "Slow Cinema",
    "Sports Drama",
    "Superhero",
    "Surrealist",
    "Thriller",
    "True Crime",
    "Visual Poetry",
    "War",
    "Western",
];

/// Format labels of `/api/config/formats`.
pub const FORMATS: &[&str] = &["Feature Film", "Short Film", "TV Series", "Web Series"];

/// Format categories the create form offers.
pub const FORMAT_CATEGORIES: &[&str] = &[
    "Television - Scripted",
    "Television - Unscripted",
    "Film",
    "Animation (Series)",
    "Audio",
    "Digital / Emerging",
    "Stage-to-Screen",
    "Other",
];

/// Budget labels of `/api/config/budget-ranges`.
pub const BUDGET_RANGES: &[&str] =
    &["Under $1M", "$1M-$5M", "$5M-$15M", "$15M-$30M", "$30M-$50M", "$50M-$100M", "Over $100M"];

/// Lower bounds, in dollars, of the budget bands behind [`BUDGET_RANGES`]: label `i` is the band
/// `[BUDGET_BAND_BOUNDS[i], BUDGET_BAND_BOUNDS[i + 1])`, and the last has no upper bound. The stores' facet
/// counts (migration 0005, `pitch_facets.budget_band`) compute the same bands in SQL.
pub const BUDGET_BAND_BOUNDS: [f64; 7] = [0.0, 1e6, 5e6, 15e6, 30e6, 50e6, 100e6];

/// The estimated-budget bounds `[min, max)` of a label of [`BUDGET_RANGES`] (case and spaces ignored).
pub fn budget_label_bounds(label: &str) -> Option<(f64, Option<f64>)> {
    let key = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let wanted = key(label);
    let i = BUDGET_RANGES.iter().position(|l| key(l) == wanted)?;
    Some((BUDGET_BAND_BOUNDS[i], BUDGET_BAND_BOUNDS.get(i + 1).copied()))
}

/// `budget_range` values the create form stores.
pub const BUDGET_RANGE_VALUES: &[&str] = &["0-100k", "100k-500k", "500k-1m", "1m-5m", "5m-20m", "20m-50m", "50m+"];

/// Stage labels of `/api/config/stages`.
pub const STAGES: &[&str] = &["Development", "Pre-Production", "Production", "Post-Production", "Distribution"];

/// `production_stage` values stored on pitches.
pub const PRODUCTION_STAGES: &[&str] =
    &["concept", "pre-production", "script development", "financing", "production", "post-production"];

/// `development_stage` values of the create form.
pub const DEVELOPMENT_STAGES: &[&str] =
    &["pitch", "treatment", "script", "semi_packaged", "fully_packaged", "semi_funded", "fully_funded", "other"];

/// Maps a genre label (or an already stored value) to the stored value, as the web client does before it
/// sends a pitch: broad labels collapse onto the legacy set, anything else is stored lower-cased.
pub fn normalize_genre(label: &str) -> String {
    let l = label.trim().to_lowercase();
    let mapped = match l.as_str() {
        "action" | "adventure" | "war" => "action",
        "animation" => "animation",
        "biography" | "documentary" => "documentary",
        "comedy" => "comedy",
        "crime" | "mystery" | "thriller" => "thriller",
        "drama" | "family" => "drama",
        "fantasy" => "fantasy",
        "horror" => "horror",
        "romance" => "romance",
        "sci-fi" | "scifi" | "science fiction" | "science fiction (sci-fi)" => "scifi",
        "western" => "other",
        _ => return l,
    };
    mapped.to_owned()
}

/// Maps a format label (or an already stored value) to the stored value.
pub fn normalize_format(label: &str) -> String {
    let l = label.trim().to_lowercase();
    let mapped = match l.as_str() {
        "feature film" | "feature" => "feature",
        "short film" | "short" => "short",
        "tv series" | "tv movie" | "mini-series" | "documentary series" | "reality show" | "tv" => "tv",
        "web series" | "webseries" => "webseries",
        _ => return l,
    };
    mapped.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_match_the_contract() {
        assert_eq!(GENRES.len(), 53);
        assert_eq!(FORMATS.len(), 4);
        assert_eq!(BUDGET_RANGES.len(), 7);
        assert_eq!(BUDGET_RANGES.len(), BUDGET_BAND_BOUNDS.len());
        assert_eq!(budget_label_bounds(" under $1m "), Some((0.0, Some(1e6))));
        assert_eq!(budget_label_bounds("$15M - $30M"), Some((15e6, Some(30e6))));
        assert_eq!(budget_label_bounds("Over $100M"), Some((100e6, None)));
        assert_eq!(budget_label_bounds("cheap"), None);
        assert_eq!(STAGES.len(), 5);
    }

    #[test]
    fn genre_and_format_mapping() {
        assert_eq!(normalize_genre("Adventure"), "action");
        assert_eq!(normalize_genre("Science Fiction (Sci-Fi)"), "scifi");
        assert_eq!(normalize_genre("Crime Drama"), "crime drama");
        assert_eq!(normalize_genre(" DRAMA "), "drama");
        assert_eq!(normalize_format("TV Series"), "tv");
        assert_eq!(normalize_format("Web Series"), "webseries");
        assert_eq!(normalize_format("Podcast"), "podcast");
        // Mapping is idempotent, so stored values and labels can be mixed in filters.
        for g in GENRES {
            let once = normalize_genre(g);
            assert_eq!(normalize_genre(&once), once);
        }
    }
}
