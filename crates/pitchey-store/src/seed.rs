//! Demo data: the contract's demo accounts, an admin, more creators, investors and production companies,
//! and a deterministic catalogue of pitches across the genres, formats and stages of the contract.
//!
//! Seeding is idempotent: accounts that exist are kept, the catalogue (curated pitches plus
//! [`DEMO_GENERATED`] generated ones) is added once, and
//! `extra_pitches` always adds that many generated pitches (for benchmarks).

use crate::bulk::DeferredIndexes;
use crate::credits::credit;
use crate::open::WRITER_CACHE_KIB;
use crate::pitches::{PitchMeta, insert_pitches};
use crate::{Backend, Sql, Store, StoreError, Tx, now};
use chrono::{DateTime, Duration, Utc};
use pitchey_core::catalog::{BUDGET_RANGE_VALUES, DEVELOPMENT_STAGES, GENRES, PRODUCTION_STAGES, normalize_genre};
use pitchey_core::{PitchFields, PitchStatus, UserType, Visibility};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// The demo password of every seeded account.
pub const DEMO_PASSWORD: &str = "Demo123";

/// A seeded account.
#[derive(Debug, Clone, Copy)]
pub struct DemoAccount {
    /// Login email.
    pub email: &'static str,
    /// Handle.
    pub username: &'static str,
    /// Account kind.
    pub user_type: UserType,
    /// Given name.
    pub first_name: &'static str,
    /// Family name.
    pub last_name: &'static str,
    /// Company.
    pub company: Option<&'static str>,
    /// Subscription tier.
    pub tier: &'static str,
    /// Profile text.
    pub bio: &'static str,
}

#[allow(clippy::too_many_arguments)] // one table row per call
const fn acct(
    email: &'static str,
    username: &'static str,
    user_type: UserType,
    first_name: &'static str,
    last_name: &'static str,
    company: Option<&'static str>,
    tier: &'static str,
    bio: &'static str,
) -> DemoAccount {
    DemoAccount { email, username, user_type, first_name, last_name, company, tier, bio }
}

/// The contract's three portal demo accounts (§2.9), then the admin, then the supporting cast.
pub const ACCOUNTS: &[DemoAccount] = &[
    acct(
        "alex.creator@demo.com",
        "alexcreator",
        UserType::Creator,
        "Alex",
        "Creator",
        None,
        "free",
        "Writer-director of grounded genre stories; two festival shorts and a feature in development.",
    ),
    acct(
        "sarah.investor@demo.com",
        "sarahinvestor",
        UserType::Investor,
        "Sarah",
        "Investor",
        Some("Venture Films Capital"),
        "professional",
        "Partner at Venture Films Capital, backing character-driven features and limited series.",
    ),
    acct(
        "stellar.production@demo.com",
        "stellarprod",
        UserType::Production,
        "Stellar",
        "Productions",
        Some("Stellar Productions"),
        "enterprise",
        "Independent production company developing premium film and television.",
    ),
    acct(
        "admin@demo.com",
        "pitcheyadmin",
        UserType::Admin,
        "Pitchey",
        "Admin",
        None,
        "enterprise",
        "Operates the Pitchey marketplace.",
    ),
    acct(
        "maya.chen@demo.com",
        "mayachen",
        UserType::Creator,
        "Maya",
        "Chen",
        None,
        "creator",
        "Showrunner-in-waiting with a love of slow-burn mysteries.",
    ),
    acct(
        "jordan.reyes@demo.com",
        "jordanreyes",
        UserType::Creator,
        "Jordan",
        "Reyes",
        None,
        "free",
        "Documentary filmmaker focused on sport and community.",
    ),
    acct(
        "priya.natarajan@demo.com",
        "priyan",
        UserType::Creator,
        "Priya",
        "Natarajan",
        None,
        "creator",
        "Animator and writer of family adventures.",
    ),
    acct(
        "tom.okafor@demo.com",
        "tomokafor",
        UserType::Creator,
        "Tom",
        "Okafor",
        None,
        "free",
        "Thriller writer; former journalist.",
    ),
    acct(
        "lena.varga@demo.com",
        "lenavarga",
        UserType::Creator,
        "Lena",
        "Varga",
        None,
        "free",
        "Genre filmmaker: horror, sci-fi and everything in between.",
    ),
    acct(
        "sam.whitfield@demo.com",
        "samwhitfield",
        UserType::Creator,
        "Sam",
        "Whitfield",
        None,
        "creator",
        "Comedy writer for stage and screen.",
    ),
    acct(
        "northlight@demo.com",
        "northlight",
        UserType::Production,
        "Nora",
        "Lind",
        Some("Northlight Pictures"),
        "production",
        "Northlight Pictures produces elevated genre features.",
    ),
    acct(
        "harbor.media@demo.com",
        "harbormedia",
        UserType::Production,
        "Hal",
        "Brooks",
        Some("Harbor Media Group"),
        "production",
        "Harbor Media Group develops unscripted and documentary series.",
    ),
    acct(
        "marcus.bell@demo.com",
        "marcusbell",
        UserType::Investor,
        "Marcus",
        "Bell",
        Some("Bell Entertainment Fund"),
        "professional",
        "Angel investor in independent film since 2012.",
    ),
    acct(
        "yuki.tanaka@demo.com",
        "yukitanaka",
        UserType::Investor,
        "Yuki",
        "Tanaka",
        Some("Horizon Media Partners"),
        "professional",
        "Invests in international co-productions.",
    ),
];

/// Generated pitches in the demo catalogue, besides the curated ones.
pub const DEMO_GENERATED: usize = 80;

/// What seeding did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Accounts created (existing ones are kept).
    pub users_created: usize,
    /// Pitches created.
    pub pitches_created: usize,
}

/// Options for [`Store::seed_demo`].
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// PHC hash of [`DEMO_PASSWORD`], computed by the caller (the store does no hashing). Every seeded
    /// account shares it; that is acceptable for demo data only.
    pub password_hash: String,
    /// Generated pitches to add beyond the curated catalogue.
    pub extra_pitches: usize,
    /// From how many extra pitches the seed loads in bulk: indexes and per-row triggers deferred and their
    /// work done once at the end (bulk.rs), and on SQLite a large page cache. [`BULK_LOAD`] normally; tests
    /// set it out of reach to compare the bulk load with the row-by-row one.
    pub bulk_load_from: usize,
    /// The instant the seed's dates count back from (published 3 days ago, and so on); `None` is now.
    /// Two seeds compared with each other need the same one: otherwise a pitch whose time falls seconds
    /// from a midnight lands on different days in the two.
    pub as_of: Option<DateTime<Utc>>,
}

/// Extra pitches from which the seed loads in bulk by default ([`SeedOptions::bulk_load_from`]).
pub const BULK_LOAD: usize = 10_000;

impl Store {
    /// Seeds the demo data (see the module docs).
    pub async fn seed_demo(&self, opts: &SeedOptions) -> Result<SeedReport, StoreError> {
        // A large catalogue on SQLite: its twenty-odd indexes outgrow the writer's page cache (64 MiB) at
        // a few tens of thousands of pitches, and from there every insert reads pages back from the file.
        // The seed's connection gets a 1 GiB cache for the load; it is memory used only as the database grows
        // into it. 100,000 pitches, before bulk.rs: 91 s with the 64 MiB cache, 57 s with this one.
        let big = self.backend() == Backend::Sqlite && opts.extra_pitches >= opts.bulk_load_from;
        let result = self.seed_in_one_transaction(opts, big).await;
        if big {
            // Committed or rolled back, the enlarged cache belongs to the writer connection, which stays in
            // the pool: hand it back.
            let reset = Sql::dynamic("seed_cache_size", format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"));
            if let Err(e) = self.db.exec(reset).await {
                tracing::warn!(error = %e, "could not reset the writer's page cache after a seed");
            }
        }
        result
    }

    async fn seed_in_one_transaction(&self, opts: &SeedOptions, big: bool) -> Result<SeedReport, StoreError> {
        let mut report = SeedReport::default();
        let mut tx = self.db.begin().await?;
        let bulk = opts.extra_pitches >= opts.bulk_load_from;
        if big {
            tx.exec(Sql::new("seed_cache_size", "PRAGMA cache_size = -1048576")).await?;
        }
        let t = opts.as_of.unwrap_or_else(now);
        let mut ids = Vec::with_capacity(ACCOUNTS.len());
        for a in ACCOUNTS {
            let (id, created) = ensure_user(&mut tx, a, &opts.password_hash, t).await?;
            report.users_created += usize::from(created);
            ids.push(id);
        }
        let demo_owned: (i64,) = tx
            .one(Sql::new("seed_count_demo_pitches", "SELECT COUNT(*) FROM pitches WHERE user_id = $1").arg(ids[0]))
            .await?;
        if demo_owned.0 == 0 {
            let rows = curated_catalogue(&ids, t);
            let pitch_ids = insert_pitches(&mut tx, &rows).await?;
            report.pitches_created += pitch_ids.len();
            seed_investments(&mut tx, &ids, &pitch_ids, t).await?;
            generate(&mut tx, &opts.password_hash, DEMO_GENERATED, t, &mut report).await?;
        }
        if opts.extra_pitches > 0 {
            // A large load defers the pitch tables' indexes (bulk.rs) and builds them once at the end.
            let deferred = if bulk { Some(DeferredIndexes::drop(&mut tx).await?) } else { None };
            generate(&mut tx, &opts.password_hash, opts.extra_pitches, t, &mut report).await?;
            if let Some(d) = deferred {
                d.rebuild(&mut tx).await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

async fn ensure_user(tx: &mut Tx, a: &DemoAccount, hash: &str, t: DateTime<Utc>) -> Result<(i64, bool), StoreError> {
    if let Some((id,)) =
        tx.opt::<(i64,)>(Sql::new("seed_find_user", "SELECT id FROM users WHERE email = $1").arg(a.email)).await?
    {
        return Ok((id, false));
    }
    let (id,): (i64,) = tx
        .one(
            Sql::new(
                "seed_insert_user",
                "INSERT INTO users (email, username, password_hash, user_type, first_name, last_name, bio, \
                 company_name, subscription_tier, email_verified, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10, $10) RETURNING id",
            )
            .arg(a.email)
            .arg(a.username)
            .arg(hash)
            .arg(a.user_type.as_str())
            .arg(a.first_name)
            .arg(a.last_name)
            .arg(a.bio)
            .arg(a.company)
            .arg(a.tier)
            .arg(t),
        )
        .await?;
    // Demo accounts can make plenty of NDA requests; they pay for them like everyone else.
    let grant = if a.user_type.can_request_ndas() { 500 } else { 100 };
    credit(tx, id, grant, "grant", "Demo credits", None).await?;
    Ok((id, true))
}

/// Investments in the curated catalogue: `(investor account index, curated pitch index, amount, status,
/// ROI %, days ago)`. Read-only data for the dashboards until investing has endpoints of its own.
type SeedInvestment = (usize, usize, f64, &'static str, Option<f64>, i64);
const INVESTMENTS: &[SeedInvestment] = &[
    (1, 1, 250_000.0, "active", Some(12.5), 20),
    (1, 3, 150_000.0, "pending", None, 6),
    (1, 10, 1_000_000.0, "active", Some(4.0), 15),
    (1, 15, 400_000.0, "completed", Some(31.0), 9),
    (12, 1, 100_000.0, "active", Some(8.0), 18),
    (12, 15, 300_000.0, "active", Some(-3.5), 5),
    (13, 9, 500_000.0, "pending", None, 3),
];

async fn seed_investments(tx: &mut Tx, accounts: &[i64], pitches: &[i64], t: DateTime<Utc>) -> Result<(), StoreError> {
    for &(investor, pitch, amount, status, roi, days) in INVESTMENTS {
        let at = t - Duration::days(days);
        tx.exec(
            Sql::new(
                "seed_investment",
                "INSERT INTO investments (investor_id, pitch_id, amount, status, roi_percentage, invested_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .arg(accounts[investor])
            .arg(pitches[pitch])
            .arg(amount)
            .arg(status)
            .arg(roi)
            .arg(at),
        )
        .await?;
    }
    Ok(())
}

/// One hand-written pitch of the curated catalogue.
struct Curated {
    owner: usize,
    title: &'static str,
    logline: &'static str,
    genre: &'static str,
    format: &'static str,
    category: &'static str,
    stage: &'static str,
    budget: &'static str,
    estimate: f64,
    nda: bool,
    status: PitchStatus,
    views: i64,
    age_days: i64,
}

#[allow(clippy::too_many_arguments)] // one table row per call
const fn cur(
    owner: usize,
    title: &'static str,
    logline: &'static str,
    genre: &'static str,
    format: &'static str,
    category: &'static str,
    stage: &'static str,
    budget: &'static str,
    estimate: f64,
    nda: bool,
    status: PitchStatus,
    views: i64,
    age_days: i64,
) -> Curated {
    Curated { owner, title, logline, genre, format, category, stage, budget, estimate, nda, status, views, age_days }
}

use PitchStatus::{Draft, Published};

const CURATED: &[Curated] = &[
    // Alex Creator (index 0): published, some behind an NDA, plus a draft.
    cur(
        0,
        "The Last Lighthouse",
        "A reclusive lighthouse keeper discovers the storm battering her island is hiding a ship that sank fifty years ago.",
        "Mystery Thriller",
        "Feature Film",
        "Film",
        "financing",
        "1m-5m",
        3_500_000.0,
        true,
        Published,
        1840,
        12,
    ),
    cur(
        0,
        "Paper Crowns",
        "Two rival teenage chess prodigies are forced to share a coach, a bedroom and a secret that could end both careers.",
        "Coming-of-Age",
        "Feature Film",
        "Film",
        "script development",
        "500k-1m",
        850_000.0,
        false,
        Published,
        960,
        30,
    ),
    cur(
        0,
        "Signal Fire",
        "When a rural radio station starts receiving calls from the future, its night host must decide which disasters to prevent.",
        "Science Fiction (Sci-Fi)",
        "TV Series",
        "Television - Scripted",
        "pre-production",
        "5m-20m",
        12_000_000.0,
        true,
        Published,
        2510,
        5,
    ),
    cur(
        0,
        "Saltwater Saints",
        "A disgraced surf champion returns home to coach the misfit team that once idolised her.",
        "Sports Drama",
        "Feature Film",
        "Film",
        "concept",
        "1m-5m",
        2_200_000.0,
        false,
        Published,
        430,
        60,
    ),
    cur(
        0,
        "The Quiet Ledger",
        "An accountant at a family-run funeral home finds the books balance only if someone keeps dying.",
        "Crime Drama",
        "TV Series",
        "Television - Scripted",
        "financing",
        "5m-20m",
        9_000_000.0,
        true,
        Published,
        1275,
        21,
    ),
    cur(
        0,
        "Kites Over Kabul",
        "A kite-maker's apprentice smuggles messages across a divided city in the last summer before the war.",
        "Historical Drama",
        "Feature Film",
        "Film",
        "script development",
        "5m-20m",
        14_000_000.0,
        false,
        Published,
        705,
        90,
    ),
    cur(
        0,
        "Untitled Heist Comedy",
        "Five retirees plan to rob the bank that foreclosed on their bowling alley.",
        "Action-Comedy",
        "Feature Film",
        "Film",
        "concept",
        "1m-5m",
        4_000_000.0,
        false,
        Draft,
        0,
        2,
    ),
    // Stellar Productions (index 2): published, some behind an NDA, plus a draft.
    cur(
        2,
        "Orbital Decay",
        "The crew of an ageing space station has ninety minutes to decide who boards the only escape capsule.",
        "Sci-Fi Horror",
        "Feature Film",
        "Film",
        "pre-production",
        "20m-50m",
        32_000_000.0,
        true,
        Published,
        3120,
        8,
    ),
    cur(
        2,
        "Harbour Lights",
        "A port city's harbour master, a smuggler and a customs officer share one explosive night.",
        "Noir / Neo-Noir",
        "TV Series",
        "Television - Scripted",
        "financing",
        "5m-20m",
        15_500_000.0,
        true,
        Published,
        1490,
        18,
    ),
    cur(
        2,
        "The Great British Bake-Off-Grid",
        "Off-grid bakers compete with wood ovens and foraged ingredients across four seasons.",
        "Reality-Drama",
        "TV Series",
        "Television - Unscripted",
        "production",
        "500k-1m",
        900_000.0,
        false,
        Published,
        820,
        40,
    ),
    cur(
        2,
        "Wildfire Season",
        "Smokejumpers battle a megafire while a journalist embedded with them uncovers who started it.",
        "Action-Thriller",
        "Feature Film",
        "Film",
        "financing",
        "20m-50m",
        27_000_000.0,
        false,
        Published,
        1960,
        25,
    ),
    cur(
        2,
        "Project Nightjar",
        "A covert documentary crew follows the last night-shift workers of a closing factory.",
        "Documentary",
        "Feature Film",
        "Film",
        "concept",
        "100k-500k",
        300_000.0,
        false,
        Draft,
        0,
        1,
    ),
    // Other creators and production companies.
    cur(
        4,
        "Glass Orchard",
        "A botanist inherits a greenhouse where every plant records the secrets whispered to it.",
        "Fantasy",
        "TV Series",
        "Television - Scripted",
        "script development",
        "5m-20m",
        11_000_000.0,
        true,
        Published,
        1120,
        15,
    ),
    cur(
        4,
        "Thirteen Floors Down",
        "An elevator repairwoman gets trapped in a building that keeps adding basements.",
        "Psychological Thriller",
        "Feature Film",
        "Film",
        "concept",
        "1m-5m",
        3_000_000.0,
        false,
        Published,
        640,
        45,
    ),
    cur(
        5,
        "Home Court",
        "A year inside a women's basketball league fighting to survive its first season.",
        "Documentary",
        "TV Series",
        "Television - Unscripted",
        "production",
        "500k-1m",
        700_000.0,
        false,
        Published,
        890,
        33,
    ),
    cur(
        6,
        "Moss and the Moon",
        "A shy hedgehog builds a rocket from garden scraps to return a lost moonbeam.",
        "Animation",
        "Feature Film",
        "Animation (Series)",
        "pre-production",
        "5m-20m",
        18_000_000.0,
        false,
        Published,
        1530,
        10,
    ),
    cur(
        7,
        "Dead Drop",
        "A junior reporter receives a USB stick that proves her editor is running a spy network.",
        "Political Thriller",
        "Feature Film",
        "Film",
        "financing",
        "5m-20m",
        8_500_000.0,
        true,
        Published,
        2045,
        7,
    ),
    cur(
        8,
        "Hollow Pines",
        "A family's new lake house comes with a neighbour who insists they have lived there for centuries.",
        "Horror",
        "Feature Film",
        "Film",
        "financing",
        "1m-5m",
        1_800_000.0,
        false,
        Published,
        1705,
        20,
    ),
    cur(
        9,
        "Open Mic Night",
        "A grieving father signs up for stand-up comedy to finish his late daughter's set.",
        "Dramedy",
        "Short Film",
        "Film",
        "production",
        "0-100k",
        60_000.0,
        false,
        Published,
        380,
        75,
    ),
    cur(
        10,
        "Frostline",
        "Arctic researchers discover a frozen city beneath the ice, and something awake inside it.",
        "Sci-Fi Horror",
        "TV Series",
        "Television - Scripted",
        "pre-production",
        "20m-50m",
        40_000_000.0,
        true,
        Published,
        2290,
        4,
    ),
    cur(
        11,
        "Street Food Kings",
        "Eight street cooks, one truck each, and a city-wide bracket to crown a champion.",
        "Reality-Drama",
        "Web Series",
        "Digital / Emerging",
        "production",
        "100k-500k",
        250_000.0,
        false,
        Published,
        560,
        50,
    ),
];

fn base_fields(
    rng: &mut ChaCha8Rng,
    title: &str,
    logline: &str,
    genre: &str,
    format: &str,
    category: &str,
) -> PitchFields {
    let synopsis = format!("{logline} {} {}", pick(rng, SYNOPSIS_MIDDLE), pick(rng, SYNOPSIS_END));
    PitchFields {
        title: Some(title.to_owned()),
        logline: Some(logline.to_owned()),
        genre: Some(normalize_genre(genre)),
        format: Some(pitchey_core::catalog::normalize_format(format)),
        format_category: Some(category.to_owned()),
        short_synopsis: Some(synopsis.clone()),
        long_synopsis: Some(format!("{synopsis} {}", pick(rng, SYNOPSIS_MIDDLE))),
        target_audience: Some(pick(rng, AUDIENCES).to_owned()),
        themes: Some(pick(rng, THEMES).to_owned()),
        tone_and_style: Some(pick(rng, TONES).to_owned()),
        comps: Some(pick(rng, COMPS).to_owned()),
        development_stage: Some(pick(rng, DEVELOPMENT_STAGES).to_owned()),
        seeking_investment: Some(rng.random_bool(0.7)),
        ai_used: Some(false),
        characters: Some(json!([
            {"name": pick(rng, FIRST_NAMES), "description": "The protagonist, out of options.", "displayOrder": 0},
            {"name": pick(rng, FIRST_NAMES), "description": "An ally with an agenda.", "displayOrder": 1}
        ])),
        visibility_settings: Some(
            json!({"showShortSynopsis": true, "showCharacters": true, "showBudget": false, "showMedia": true}),
        ),
        thumbnail_url: Some(format!("/api/media/file/demo/thumb-{}.jpg", rng.random_range(1..=24))),
        ..Default::default()
    }
}

fn protect(f: &mut PitchFields, title: &str, estimate: f64) {
    f.require_nda = Some(true);
    f.budget_breakdown = Some(json!({
        "development": (estimate * 0.1).round(), "production": (estimate * 0.6).round(),
        "postProduction": (estimate * 0.2).round(), "marketing": (estimate * 0.1).round()
    }));
    f.attached_talent = Some(json!([
        {"name": "Rosa Delgado", "role": "Director", "confirmed": true},
        {"name": "Idris Vale", "role": "Lead", "confirmed": false}
    ]));
    f.financial_projections =
        Some(json!({"projectedRevenue": (estimate * 2.4).round(), "breakEvenMonths": 18, "roi": 1.4}));
    f.distribution_plan =
        Some(format!("Festival premiere for {title}, then a streaming first window and international sales."));
    f.marketing_strategy = Some("Festival buzz, a targeted social campaign and talent-led press.".to_owned());
    f.revenue_model = Some("Streaming licence, international pre-sales and a theatrical window.".to_owned());
    f.private_attachments = Some(
        json!([{"url": "r2://private/script.pdf", "name": "Full script.pdf", "type": "script", "mimeType": "application/pdf"}]),
    );
    f.contact_details = Some(
        json!({"email": "rights@example.com", "phone": "+1 555 0100", "agent": {"name": "Dana Holt", "agency": "Holt & Partners"}}),
    );
    f.script_url = Some("/api/media/file/private/script.pdf".to_owned());
    f.pitch_deck_url = Some("/api/media/file/private/deck.pdf".to_owned());
    f.video_password = Some("screening-only".to_owned());
}

fn curated_catalogue(ids: &[i64], t: DateTime<Utc>) -> Vec<(PitchMeta, PitchFields)> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0001);
    CURATED
        .iter()
        .map(|c| {
            let mut f = base_fields(&mut rng, c.title, c.logline, c.genre, c.format, c.category);
            f.production_stage = Some(c.stage.to_owned());
            f.budget_range = Some(c.budget.to_owned());
            f.budget_bracket = Some(c.budget.to_owned());
            f.estimated_budget = Some(c.estimate);
            f.production_timeline = Some("12-18 months".to_owned());
            f.require_nda = Some(c.nda);
            if c.nda {
                protect(&mut f, c.title, c.estimate);
            }
            let created = t - Duration::days(c.age_days);
            let published = c.status == Published;
            let meta = PitchMeta {
                user_id: ids[c.owner],
                status: c.status,
                visibility: if published { Visibility::Public } else { Visibility::Private },
                published_at: published.then(|| created + Duration::hours(6).min(t - created)),
                view_count: c.views,
                created_at: created,
            };
            (meta, f)
        })
        .collect()
}

/// Generates `n` pitches owned by generated creators and production companies (one account per 500
/// pitches, at least 20), deterministically for a given database state.
async fn generate(
    tx: &mut Tx,
    hash: &str,
    n: usize,
    t: DateTime<Utc>,
    report: &mut SeedReport,
) -> Result<(), StoreError> {
    let (existing,): (i64,) = tx.one(Sql::new("seed_count_pitches", "SELECT COUNT(*) FROM pitches")).await?;
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_0002 ^ existing as u64);
    let owners_wanted = (n / 500).max(20);
    let mut owners = Vec::with_capacity(owners_wanted);
    for i in 0..owners_wanted {
        let production = i % 5 == 4;
        let (kind, first, last) = if production {
            (UserType::Production, pick(&mut rng, FIRST_NAMES), pick(&mut rng, LAST_NAMES))
        } else {
            (UserType::Creator, pick(&mut rng, FIRST_NAMES), pick(&mut rng, LAST_NAMES))
        };
        let email = format!("{}{}@seed.example.com", if production { "studio" } else { "creator" }, i + 1);
        let username = format!("{}_{}", if production { "studio" } else { "creator" }, i + 1);
        let company = production.then(|| format!("{last} {}", pick(&mut rng, STUDIO_SUFFIX)));
        let id = match tx
            .opt::<(i64,)>(Sql::new("seed_find_user", "SELECT id FROM users WHERE email = $1").arg(&email))
            .await?
        {
            Some((id,)) => id,
            None => {
                let (id,): (i64,) = tx
                    .one(
                        Sql::new(
                            "seed_insert_user",
                            "INSERT INTO users (email, username, password_hash, user_type, first_name, last_name, bio, \
                             company_name, subscription_tier, email_verified, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10, $10) RETURNING id",
                        )
                        .arg(&email)
                        .arg(&username)
                        .arg(hash)
                        .arg(kind.as_str())
                        .arg(first)
                        .arg(last)
                        .arg(format!("{first} {last} makes films and series for the Pitchey marketplace."))
                        .arg(company)
                        .arg("free")
                        .arg(t),
                    )
                    .await?;
                report.users_created += 1;
                id
            }
        };
        owners.push(id);
    }
    const BATCH: usize = 2_000;
    let mut made = 0;
    while made < n {
        let k = BATCH.min(n - made);
        let rows: Vec<(PitchMeta, PitchFields)> = (0..k).map(|_| generated_pitch(&mut rng, &owners, t)).collect();
        made += insert_pitches(tx, &rows).await?.len();
    }
    report.pitches_created += made;
    Ok(())
}

fn generated_pitch(rng: &mut ChaCha8Rng, owners: &[i64], t: DateTime<Utc>) -> (PitchMeta, PitchFields) {
    let title = match rng.random_range(0..3) {
        0 => format!("The {} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
        1 => format!("{} of the {}", pick(rng, NOUNS), pick(rng, PLACES)),
        _ => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)),
    };
    let logline = format!(
        "When {} {}, {} must {} before {}.",
        pick(rng, PROTAGONISTS),
        pick(rng, INCIDENTS),
        pick(rng, PRONOUNS),
        pick(rng, GOALS),
        pick(rng, STAKES)
    );
    let genre = pick(rng, GENRES);
    let (format, category) = pick(rng, FORMAT_PAIRS);
    let mut f = base_fields(rng, &title, &logline, genre, format, category);
    let bi = rng.random_range(0..BUDGET_RANGE_VALUES.len());
    let estimate = [50_000.0, 300_000.0, 750_000.0, 3_000_000.0, 12_000_000.0, 35_000_000.0, 80_000_000.0][bi];
    f.budget_range = Some(BUDGET_RANGE_VALUES[bi].to_owned());
    f.budget_bracket = Some(BUDGET_RANGE_VALUES[bi].to_owned());
    f.estimated_budget = Some(estimate);
    f.production_stage = Some(pick(rng, PRODUCTION_STAGES).to_owned());
    f.production_timeline = Some(pick(rng, TIMELINES).to_owned());
    let nda = rng.random_bool(0.3);
    f.require_nda = Some(nda);
    if nda {
        protect(&mut f, &title, estimate);
    }
    let age = Duration::minutes(rng.random_range(0..(365 * 24 * 60)));
    let created = t - age;
    let published = rng.random_bool(0.92);
    let meta = PitchMeta {
        user_id: owners[rng.random_range(0..owners.len())],
        status: if published { Published } else { Draft },
        visibility: if published {
            if rng.random_bool(0.9) { Visibility::Public } else { Visibility::InvestorsOnly }
        } else {
            Visibility::Private
        },
        published_at: published.then(|| created + Duration::minutes(rng.random_range(0..(72 * 60))).min(age)),
        view_count: if published { rng.random_range(0..5_000) } else { 0 },
        created_at: created,
    };
    (meta, f)
}

fn pick<'a, T: ?Sized>(rng: &mut ChaCha8Rng, xs: &'a [&'a T]) -> &'a T {
    xs[rng.random_range(0..xs.len())]
}

const FORMAT_PAIRS: &[&(&str, &str)] = &[
    &("Feature Film", "Film"),
    &("Feature Film", "Film"),
    &("Short Film", "Film"),
    &("TV Series", "Television - Scripted"),
    &("TV Series", "Television - Unscripted"),
    &("Web Series", "Digital / Emerging"),
    &("Mini-Series", "Television - Scripted"),
];
const ADJECTIVES: &[&str] = &[
    "Silent",
    "Broken",
    "Golden",
    "Hidden",
    "Last",
    "Crimson",
    "Endless",
    "Wild",
    "Hollow",
    "Burning",
    "Frozen",
    "Electric",
    "Forgotten",
    "Midnight",
    "Paper",
    "Iron",
    "Velvet",
    "Distant",
    "Restless",
    "Northern",
];
const NOUNS: &[&str] = &[
    "Harbor",
    "Orchard",
    "Signal",
    "Kingdom",
    "Witness",
    "Frontier",
    "Ledger",
    "Carnival",
    "Archive",
    "Lighthouse",
    "Tide",
    "Empire",
    "Garden",
    "Highway",
    "Choir",
    "Vault",
    "Horizon",
    "Circuit",
    "Compass",
    "Ember",
];
const PLACES: &[&str] = &[
    "North",
    "Deep",
    "Valley",
    "Old City",
    "Long Night",
    "Borderlands",
    "Islands",
    "Desert",
    "Last Summer",
    "Iron Coast",
];
const PROTAGONISTS: &[&str] = &[
    "a disgraced detective",
    "a small-town mechanic",
    "an ambitious intern",
    "a retired astronaut",
    "two estranged sisters",
    "a teenage hacker",
    "a widowed chef",
    "a burned-out war reporter",
    "a street magician",
    "an undocumented nurse",
];
const INCIDENTS: &[&str] = &[
    "finds a map hidden in a library book",
    "witnesses a crime nobody else can see",
    "inherits a failing circus",
    "wakes up with someone else's memories",
    "is blackmailed by an anonymous app",
    "discovers the town is being sold",
    "loses everything in a single poker hand",
    "receives a letter from their future self",
];
const PRONOUNS: &[&str] = &["they", "she", "he"];
const GOALS: &[&str] = &[
    "expose the truth",
    "win back the family home",
    "assemble an unlikely crew",
    "cross the border",
    "finish the last race",
    "find the missing heir",
    "stage one final show",
    "outwit a corrupt mayor",
];
const STAKES: &[&str] = &[
    "the storm hits",
    "the election",
    "the money runs out",
    "the secret destroys them",
    "the festival opens",
    "dawn",
    "the tide turns",
    "their past catches up",
];
const SYNOPSIS_MIDDLE: &[&str] = &[
    "Along the way, old alliances fracture and new ones are forged under pressure.",
    "What begins as a favour turns into the most dangerous week of their life.",
    "Each choice costs someone they love.",
    "The closer they get, the less they trust what they see.",
];
const SYNOPSIS_END: &[&str] = &[
    "It is a story about courage, consequence and second chances.",
    "An intimate story told on a big canvas.",
    "Funny, tense and surprisingly tender.",
    "A crowd-pleaser with a sharp edge.",
];
const AUDIENCES: &[&str] =
    &["Adults 18-49", "Young adults 16-30", "Families", "Genre fans 18-34", "Prestige drama audiences 25-54"];
const THEMES: &[&str] = &[
    "Identity, belonging and family",
    "Power and corruption",
    "Grief and renewal",
    "Ambition versus loyalty",
    "Survival and community",
];
const TONES: &[&str] = &[
    "Grounded and suspenseful",
    "Warm, witty and heartfelt",
    "Dark, atmospheric and tense",
    "Bold, kinetic and stylish",
];
const COMPS: &[&str] = &[
    "Knives Out meets Fargo",
    "Stranger Things meets The Goonies",
    "Sicario meets Hell or High Water",
    "Little Miss Sunshine meets Chef",
];
const TIMELINES: &[&str] = &["6-12 months", "12-18 months", "18-24 months"];
const FIRST_NAMES: &[&str] = &[
    "Ava", "Ben", "Chloe", "Diego", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Luca", "Mira", "Nikhil",
    "Olga", "Pablo", "Quinn", "Rhea", "Soren", "Tara",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Bauer", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Jensen", "Kaur", "Larsen",
    "Moreau", "Novak", "Osei", "Price",
];
const STUDIO_SUFFIX: &[&str] = &["Pictures", "Films", "Studios", "Entertainment", "Media"];
