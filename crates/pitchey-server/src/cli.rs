//! The `pitchey` command line: `serve` (default), `migrate`, `seed`, `user create`.

use crate::config::Settings;
use crate::password;
use clap::{Parser, Subcommand};
use pitchey_core::{Email, Password, UserType, Username};
use pitchey_store::NewUser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Pitchey: the marketplace API server.
#[derive(Debug, Parser)]
#[command(name = "pitchey", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./pitchey.toml when present.
    #[arg(long, env = "PITCHEY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides PITCHEY_BIND).
    #[arg(long, global = true)]
    pub bind: Option<SocketAddr>,
    /// Database URL, sqlite://PATH or postgres://... (overrides PITCHEY_DATABASE_URL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Add the demo data (idempotent) and optionally many generated pitches.
    Seed {
        /// Generated pitches to add beyond the curated demo catalogue.
        #[arg(long, default_value_t = 0)]
        pitches: usize,
    },
    /// Database diagnostics.
    Db {
        /// The action.
        #[command(subcommand)]
        action: DbCommand,
    },
    /// Manage accounts.
    User {
        /// The action.
        #[command(subcommand)]
        action: UserCommand,
    },
}

/// `pitchey db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Print the plan of every hot query (docs/INDEXES.md lists which index serves each).
    Explain,
    /// Refresh planner statistics (SQLite ANALYZE; PostgreSQL VACUUM ANALYZE).
    Analyze,
}

/// `pitchey user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (for example an administrator).
    Create {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Password (8–128 characters). Read from PITCHEY_NEW_USER_PASSWORD when not given.
        #[arg(long, env = "PITCHEY_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Create an administrator.
        #[arg(long, conflicts_with = "user_type")]
        admin: bool,
        /// Account type: creator, investor or production.
        #[arg(long = "type", default_value = "creator")]
        user_type: String,
        /// Username (default: from the email).
        #[arg(long)]
        username: Option<String>,
        /// Given name.
        #[arg(long)]
        first_name: Option<String>,
        /// Family name.
        #[arg(long)]
        last_name: Option<String>,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match load_settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_settings(cli: &Cli) -> Result<Settings, crate::config::ConfigError> {
    let mut s = Settings::load(cli.config.as_deref())?;
    if let Some(b) = cli.bind {
        s.bind = b;
    }
    if let Some(u) = &cli.database_url {
        s.database_url = Some(u.clone());
    }
    s.check()?;
    Ok(s)
}

fn init_logging(s: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&s.log_level));
    // Colours only on a terminal: escape codes in a log file are noise, and the fmt layer writes the request
    // span's fields (with their colours) for every request, logged or not: 2% of the static route's CPU.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    if s.log_format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn run(cmd: Command, settings: Settings) -> anyhow::Result<()> {
    match cmd {
        Command::Serve => {
            tracing::info!("pitchey {} starting with:", env!("CARGO_PKG_VERSION"));
            for line in settings.redacted_lines() {
                tracing::info!("  {line}");
            }
            crate::limits::raise_fd_limit();
            let listener = crate::app::bind(settings.bind)?;
            // Start-up (migrations, demo data, warming) runs while we already answer probes.
            let app = crate::app::prepare(settings).await?;
            tracing::info!(address = %listener.local_addr()?, backend = app.state.store.backend().as_str(), "listening");
            crate::app::serve(listener, app, crate::app::shutdown_signal()).await?;
        }
        Command::Migrate => {
            let store = pitchey_store::connect(&settings.store_config()).await?;
            store.migrate().await?;
            store.close().await;
            println!("migrations applied ({})", store.backend().as_str());
        }
        Command::Seed { pitches } => {
            let store = pitchey_store::connect(&settings.store_config()).await?;
            store.migrate().await?;
            let t0 = std::time::Instant::now();
            let r = crate::app::seed_demo(&store, pitches).await?;
            store.close().await;
            println!(
                "seeded {} users and {} pitches in {:.1}s ({})",
                r.users_created,
                r.pitches_created,
                t0.elapsed().as_secs_f64(),
                store.backend().as_str()
            );
            report_told(&settings, tell_running_nodes(&settings).await);
        }
        Command::Db { action } => {
            let store = pitchey_store::connect(&settings.store_config()).await?;
            store.migrate().await?;
            match action {
                DbCommand::Explain => {
                    for plan in store.explain_hot_queries().await? {
                        println!("{}", plan.name);
                        for line in plan.lines {
                            println!("    {line}");
                        }
                    }
                }
                DbCommand::Analyze => {
                    store.analyze().await?;
                    println!("statistics refreshed ({})", store.backend().as_str());
                }
            }
            store.close().await;
        }
        Command::User {
            action: UserCommand::Create { email, password, admin, user_type, username, first_name, last_name },
        } => {
            let email = Email::parse(&email)?;
            let pw = Password::parse(&password)?;
            let user_type = if admin { UserType::Admin } else { user_type.parse::<UserType>()? };
            let username = match username {
                Some(u) => Username::parse(&u)?,
                None => Username::from_email(&email),
            };
            let hash =
                tokio::task::spawn_blocking(move || password::hash(pw.expose())).await?.map_err(anyhow::Error::msg)?;
            let store = pitchey_store::connect(&settings.store_config()).await?;
            store.migrate().await?;
            let u = store
                .create_user(&NewUser {
                    email,
                    username,
                    password_hash: hash,
                    user_type,
                    first_name,
                    last_name,
                    bio: None,
                    company_name: None,
                    subscription_tier: "free".to_owned(),
                })
                .await?;
            store.close().await;
            println!("created {} user {} (id {})", u.user_type, u.email, u.id);
            report_told(&settings, tell_running_nodes(&settings).await);
        }
    }
    Ok(())
}

/// What a command that wrote to the database behind the running servers' backs did about their caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// Every cached namespace was invalidated on every node, through Redis.
    Everyone,
    /// No Redis is configured, so running servers cannot be reached.
    NoRedis,
    /// Redis did not take the invalidation.
    RedisDidNotAnswer,
    /// The cache is off: there is nothing to invalidate.
    CacheOff,
}

/// Invalidates every cached namespace on the running nodes, through Redis, after `seed` or `user create`
/// wrote to their database: without it, new users and pitches would appear in cached lists and searches
/// only when those entries expire.
pub async fn tell_running_nodes(settings: &Settings) -> Told {
    if !settings.cache_enabled {
        return Told::CacheOff;
    }
    if settings.redis_url.is_none() {
        return Told::NoRedis;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let told = match pitchey_cache::Cache::new(&settings.cache_config(), stop.clone()) {
        Ok(cache) => {
            // Subscribed first: the running nodes' acknowledgements come back through this subscription
            // (without it the command does not wait for them). Not when Redis does not even answer a PING.
            if matches!(cache.ping_l2().await, Some(Ok(_))) {
                cache.wait_subscribed(crate::app::REDIS_SUBSCRIBE_WAIT).await;
            }
            if cache.invalidate_all().await { Told::Everyone } else { Told::RedisDidNotAnswer }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not build the cache to reach Redis");
            Told::RedisDidNotAnswer
        }
    };
    stop.cancel();
    told
}

fn report_told(settings: &Settings, told: Told) {
    let longest = [settings.cache_ttl_lists_secs, settings.cache_ttl_pitch_secs, settings.cache_ttl_search_secs]
        .into_iter()
        .max()
        .unwrap_or(0);
    match told {
        Told::Everyone => println!("cached pages invalidated on every running server (through Redis)"),
        Told::CacheOff => {}
        Told::NoRedis => println!(
            "no Redis configured: a running server shows this once its cached pages expire (within {longest} s), \
             or at once after an admin's POST /api/cache/invalidate {{\"all\":true}}"
        ),
        Told::RedisDidNotAnswer => eprintln!(
            "warning: Redis did not take the cache invalidation: running servers show this once their cached \
             pages expire (within {longest} s)"
        ),
    }
}
