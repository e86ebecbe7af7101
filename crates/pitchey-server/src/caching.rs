//! Read-through caching of public responses, with HTTP validators.
//!
//! A cached response is the JSON body's bytes and a strong ETag. `If-None-Match` is answered 304 without
//! a body; public responses carry `Cache-Control: public, max-age, s-maxage, stale-while-revalidate`.
//! `X-Cache` tells where the body came from (`HIT`, `L2`, `MISS`, `STALE`), for operators and tests.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::JsonBody;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pitchey_cache::{Entry, Ns, Source};
use std::future::Future;
use std::sync::Arc;

/// The cache key of a request: the route's name and its query pairs in a canonical order (so
/// `?limit=4&tab=new` and `?tab=new&limit=4` share an entry). Very long queries are hashed.
pub fn key(route: &str, uri: &Uri) -> String {
    key_of(route, uri.query().unwrap_or(""))
}

/// [`key`] from a raw query string.
pub fn key_of(route: &str, query: &str) -> String {
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    let q = pairs.join("&");
    if q.len() > 512 {
        format!("{route}?#{}", pitchey_cache::etag_of(q.as_bytes()).trim_matches('"'))
    } else {
        format!("{route}?{q}")
    }
}

/// Does `If-None-Match` match `etag` (weak comparison, as RFC 9110 prescribes for this header)?
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let Some(v) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else { return false };
    v.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
}

fn cache_control(state: &AppState) -> HeaderValue {
    let s = &state.settings;
    HeaderValue::from_str(&format!(
        "public, max-age={}, s-maxage={}, stale-while-revalidate={}",
        s.http_max_age_secs, s.http_s_maxage_secs, s.http_stale_while_revalidate_secs
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=10"))
}

/// A content coding cached bodies are also kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Coding {
    Br,
    Gzip,
}

/// Bodies smaller than this are sent as they are, cached or not (`app`'s `CompressionLayer` uses the same
/// floor): compressing a health report of 700 bytes on the fly cost more CPU than serving it four times.
pub const MIN_COMPRESSED_BODY: usize = 1024;
/// Brotli quality and gzip level of stored compressed bodies: each is compressed once per distinct body,
/// so a higher level than the on-the-fly one pays.
const STORED_LEVEL: i32 = 6;

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The client's choice among ours: brotli, else gzip, unless `Accept-Encoding` refuses it (`q=0`).
    fn preferred(headers: &HeaderMap) -> Option<Coding> {
        let accepts = |name: &str| {
            headers
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|item| {
                    let mut parts = item.split(';');
                    let token = parts.next().unwrap_or("").trim();
                    let q = parts
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
                    token.eq_ignore_ascii_case(name) && q > 0.0
                })
        };
        if accepts("br") {
            Some(Coding::Br)
        } else if accepts("gzip") {
            Some(Coding::Gzip)
        } else {
            None
        }
    }
}

/// Compressed copies of cached response bodies, keyed by the body's strong ETag (a hash of its content) and
/// the coding. A cached page is compressed once, not on every request: on-the-fly compression of a 120 KB
/// marketplace page costs 1–3 ms of CPU, more than serving it. Being content-addressed, the copies need no
/// invalidation; they are bounded in bytes and expire with disuse.
#[derive(Clone)]
pub struct CompressedBodies {
    copies: moka::future::Cache<(String, Coding), Bytes>,
}

impl CompressedBodies {
    /// Copies of at most `max_bytes` in total.
    pub fn new(max_bytes: u64) -> CompressedBodies {
        let copies = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &(String, Coding), v: &Bytes| u32::try_from(k.0.len() + v.len() + 64).unwrap_or(u32::MAX))
            .time_to_idle(std::time::Duration::from_secs(600))
            .build();
        CompressedBodies { copies }
    }

    /// `body` (whose ETag is `etag`) in `coding`; concurrent first requests share one compression. `None`
    /// if compressing failed (the body is then sent as it is).
    async fn get(&self, etag: &str, coding: Coding, body: &Bytes) -> Option<Bytes> {
        let key = (etag.to_owned(), coding);
        if let Some(copy) = self.copies.get(&key).await {
            return Some(copy);
        }
        // Boxed: the encoder's state is kilobytes, and inline it would be part of every request's future.
        Box::pin(self.copies.try_get_with(key, compress(coding, body.clone()))).await.ok()
    }
}

async fn compress(coding: Coding, body: Bytes) -> std::io::Result<Bytes> {
    use async_compression::Level;
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder};
    use tokio::io::AsyncReadExt;
    let mut out = Vec::with_capacity(body.len() / 8);
    let level = Level::Precise(STORED_LEVEL);
    match coding {
        Coding::Br => BrotliEncoder::with_quality(&body[..], level).read_to_end(&mut out).await?,
        Coding::Gzip => GzipEncoder::with_quality(&body[..], level).read_to_end(&mut out).await?,
    };
    Ok(Bytes::from(out))
}

/// A cacheable JSON response (or 304) from an entry, compressed from the stored copy when the client
/// accepts brotli or gzip. Each representation has its own strong ETag (the identity one with `-br` or
/// `-gzip` appended), as RFC 9110 requires of strong validators.
async fn respond(state: &AppState, entry: &Entry, source: Source, headers: &HeaderMap) -> Response {
    let (body, coding) = representation(state, entry, headers).await;
    let etag = match coding {
        Some(c) => format!("{}-{}\"", entry.etag.trim_end_matches('"'), c.name()),
        None => entry.etag.clone(),
    };
    let etag_value = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let mut res = if not_modified(headers, &etag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        // A 304 carries the Vary of the 200 it stands for; the compression layer adds none to an empty body.
        if entry.body.len() >= MIN_COMPRESSED_BODY {
            r.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        r
    } else {
        ok_json(body, coding)
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, cache_control(state));
    h.insert("x-cache", HeaderValue::from_static(source_label(source)));
    res
}

/// The entry's body as the client will get it: a stored brotli or gzip copy when the client accepts one
/// and the body is worth compressing, else the body itself.
async fn representation(state: &AppState, entry: &Entry, headers: &HeaderMap) -> (Bytes, Option<Coding>) {
    let coding = if entry.body.len() >= MIN_COMPRESSED_BODY { Coding::preferred(headers) } else { None };
    if let Some(c) = coding
        && let Some(b) = state.compressed.get(&entry.etag, c, &entry.body).await
    {
        return (b, Some(c));
    }
    (entry.body.clone(), None)
}

/// A 200 JSON response of `body` in `coding`.
fn ok_json(body: Bytes, coding: Option<Coding>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(c) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(c.name()));
        // `CompressionLayer` leaves responses that already have a coding alone, Vary included.
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    r
}

/// The entry of `key` in `ns`: from the cache, or computed with `load` on a miss (concurrent misses share one
/// load; an outage serves the last value when one is kept). With caching disabled, `load` runs every time.
async fn entry<F, Fut, B>(state: &AppState, ns: Ns, key: &str, load: F) -> ApiResult<(Arc<Entry>, Source)>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<B>>,
    B: JsonBody,
{
    if state.settings.cache_enabled {
        let after_write = state.cache.invalidated_within(ns, state.settings.replica_lag_bound());
        let bytes = || async move { primary_after_write(after_write, async { load().await?.into_bytes() }).await };
        state.cache.get_or_load(ns, key, bytes).await.map_err(|e: Arc<ApiError>| (*e).clone())
    } else {
        // Boxed like the cache's miss path: inline, a store query's future would make every request's
        // future tens of kilobytes larger.
        Ok((Arc::new(Entry::new(Box::pin(load()).await?.into_bytes()?)), Source::Loaded))
    }
}

/// Runs a cache load on the primary when `after_write` (its namespace was invalidated within the replica
/// lag bound): the value is shared by everyone for a TTL, and a replica that has not replayed the write yet
/// would fill the cache with what the write replaced.
async fn primary_after_write<T>(after_write: bool, load: impl Future<Output = T>) -> T {
    if after_write { pitchey_store::PRIMARY_READS.scope(true, load).await } else { load.await }
}

/// Serves `key` in `ns` through the cache ([`entry`]); the response carries its ETag, cached or not.
pub async fn cached<F, Fut, B>(
    state: &AppState,
    ns: Ns,
    key: String,
    headers: &HeaderMap,
    load: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<B>>,
    B: JsonBody,
{
    let (entry, source) = entry(state, ns, &key, load).await?;
    Ok(respond(state, &entry, source, headers).await)
}

/// An anonymous, shared response of a route that answers signed-in viewers differently (a pitch page, the
/// generic list): `Vary: Cookie`, so that a browser that cached it before signing in asks again afterwards
/// instead of showing the anonymous copy (hidden creator, no NDA access) until it expires.
pub fn anonymous_variant(res: ApiResult<Response>) -> ApiResult<Response> {
    res.map(|mut r| {
        r.headers_mut().append(header::VARY, HeaderValue::from_static("Cookie"));
        r
    })
}

/// A signed-in user's dashboard at `route`, from the [`Ns::Dashboard`] cache under a key of that user's
/// alone, computed with `load` on a miss. The response is `private, no-store` (`Vary: Cookie`) like every
/// per-user response; `X-Cache` says where it came from. Every API write invalidates the namespace
/// (`app::handler_middleware`). A client that accepts brotli or gzip gets the body's stored compressed
/// copy ([`CompressedBodies`], found by the hash of the body: only ever the same bytes, compressed);
/// compressing each dashboard on the fly made them six times slower.
pub async fn cached_dashboard<F, Fut, B>(
    state: &AppState,
    route: &str,
    user_id: i64,
    headers: &HeaderMap,
    load: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<B>>,
    B: JsonBody,
{
    let (entry, source) = entry(state, Ns::Dashboard, &format!("{route}#user={user_id}"), load).await?;
    let (body, coding) = representation(state, &entry, headers).await;
    let mut res = ok_json(body, coding);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.append(header::VARY, HeaderValue::from_static("Cookie"));
    h.insert("x-cache", HeaderValue::from_static(source_label(source)));
    Ok(res)
}

fn source_label(source: Source) -> &'static str {
    match source {
        Source::L1 => "HIT",
        Source::L2 => "L2",
        Source::Loaded => "MISS",
        Source::Stale => "STALE",
    }
}

/// Warms the first pages the web client loads on its public pages; returns the keys warmed.
pub async fn warm(state: &AppState) -> Vec<String> {
    let mut warmed = Vec::new();
    for (route, query) in crate::routes::browse::WARM {
        match crate::routes::browse::warm_one(state, route, query).await {
            Ok(k) => warmed.push(k),
            Err(e) => tracing::warn!(route, error = %e.message, "cache warm failed"),
        }
    }
    match crate::routes::config::warm(state).await {
        Ok(k) => warmed.push(k),
        Err(e) => tracing::warn!(error = %e.message, "cache warm failed"),
    }
    warmed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_canonical() {
        assert_eq!(key_of("browse", "tab=new&limit=4"), key_of("browse", "limit=4&tab=new"));
        assert_ne!(key_of("browse", "tab=new"), key_of("search", "tab=new"));
        assert_eq!(key_of("config", ""), "config?");
        let long = format!("q={}", "x".repeat(2000));
        assert!(key_of("search", &long).len() < 100);
    }

    #[test]
    fn if_none_match_forms() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\", W/\"b\""));
        assert!(not_modified(&h, "\"b\""));
        assert!(!not_modified(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, "\"c\""));
        assert!(!not_modified(&HeaderMap::new(), "\"a\""));
    }

    /// The compressed copy's lookup is part of every cached response's future: the encoder's state must
    /// not be, or each request moves kilobytes it never uses.
    #[tokio::test]
    async fn a_compressed_copy_lookup_stays_small_and_compresses_once() {
        let copies = CompressedBodies::new(1 << 20);
        let body = Bytes::from("{\"items\":[]} ".repeat(200));
        let lookup = copies.get("\"e1\"", Coding::Br, &body);
        let size = std::mem::size_of_val(&lookup);
        assert!(size < 1024, "a compressed copy's lookup future is {size} bytes");
        let first = lookup.await.unwrap_or_else(|| panic!("compression failed"));
        assert!(first.len() < body.len() / 4, "{} bytes compressed to {}", body.len(), first.len());
        let mut plain = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(
            &mut async_compression::tokio::bufread::BrotliDecoder::new(&first[..]),
            &mut plain,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain, body);
        // The same ETag is served from the stored copy, not compressed again (same allocation).
        let again = copies.get("\"e1\"", Coding::Br, &body).await.unwrap_or_else(|| panic!("no copy"));
        assert_eq!(again.as_ptr(), first.as_ptr());
    }
}
