//! One request, measured and judged: send, read the whole body, check status and shape, record.

use crate::body_check::{self, Want};
use crate::metrics::{Failure, Recorder};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// The session cookie the server sets on login.
pub const SESSION_COOKIE: &str = "pitchey-session";

/// A client for one virtual user: keep-alive connections, no proxy (traffic goes exactly where `--host`
/// says), optionally a cookie jar for signed-in journeys.
pub fn client(timeout: Duration, cookies: bool) -> anyhow::Result<Client> {
    Ok(Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .no_proxy()
        .cookie_store(cookies)
        .user_agent(concat!("pitchey-load/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A successful exchange: status, parsed JSON body, and whether a session cookie was set.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// Whether the response set `pitchey-session`.
    pub session_cookie: bool,
}

impl Reply {
    /// The value at a JSON pointer such as `/data/pitches`.
    pub fn at(&self, pointer: &str) -> &Value {
        self.body.pointer(pointer).unwrap_or(&Value::Null)
    }
}

/// What came back, before the body is judged.
struct Raw {
    status: u16,
    session_cookie: bool,
    bytes: bytes::Bytes,
    /// `Content-Encoding`, when the body is compressed.
    encoding: Option<String>,
}

/// A content coding the tool can ask for and decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// Brotli, what browsers prefer.
    Br,
    /// Gzip.
    Gzip,
}

impl Encoding {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }
}

/// `body` decoded from `encoding` (`None` or `identity`: as it is).
fn decode<'a>(body: &'a [u8], encoding: Option<&str>) -> Result<Cow<'a, [u8]>, Failure> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len() * 8);
    let read = match encoding {
        None | Some("identity") => return Ok(Cow::Borrowed(body)),
        Some("br") => brotli_decompressor::Decompressor::new(body, 4096).read_to_end(&mut out),
        Some("gzip") => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        Some(other) => return Err(Failure::new("unknown content-encoding", other.to_owned())),
    };
    read.map(|_| Cow::Owned(out)).map_err(|e| Failure::new("body does not decode", e.to_string()))
}

/// Sends `req` and records the outcome under `label`. Latency runs from `started` (the intended start in
/// open-loop runs, so queueing behind a slow server counts) to the last byte of the body. Non-2xx, a body
/// that is not JSON, or a failed `check` (which returns a short, stable reason) are errors. Returns the reply
/// only when everything passed.
pub async fn send(
    rec: &Recorder,
    label: &'static str,
    req: RequestBuilder,
    started: Instant,
    primary: bool,
    check: impl FnOnce(&Reply) -> Result<(), String>,
) -> Option<Reply> {
    send_judged(rec, label, req, started, primary, |raw| {
        let body: Value = serde_json::from_slice(&raw.bytes).map_err(|e| {
            Failure::new("body is not JSON", format!("{e}: {}", excerpt(&String::from_utf8_lossy(&raw.bytes))))
        })?;
        let reply = Reply { status: raw.status, body, session_cookie: raw.session_cookie };
        match check(&reply) {
            Ok(()) => Ok(reply),
            Err(why) => Err(Failure::new(why, excerpt(&reply.body.to_string()))),
        }
    })
    .await
}

/// Like [`send`] for reads whose reply the caller does not keep: the body must be JSON whose values at
/// `wants` are of the wanted kinds, checked in one pass without building a document
/// ([`crate::body_check`]). Returns whether the request passed.
pub async fn send_shaped(
    rec: &Recorder,
    label: &'static str,
    req: RequestBuilder,
    started: Instant,
    primary: bool,
    wants: &[(&str, Want)],
) -> bool {
    send_judged(rec, label, req, started, primary, |raw| {
        body_check::check(&raw.bytes, wants).map_err(|why| {
            let shown = excerpt(&String::from_utf8_lossy(&raw.bytes));
            match why.strip_prefix(body_check::NOT_JSON) {
                Some(detail) => {
                    Failure::new(body_check::NOT_JSON, format!("{}: {shown}", detail.trim_start_matches(": ")))
                }
                None => Failure::new(why, shown),
            }
        })
    })
    .await
    .is_some()
}

/// The envelope fields a light check reads; the rest of the body is validated as JSON but not kept.
#[derive(serde::Deserialize)]
struct Envelope {
    success: Option<bool>,
    status: Option<String>,
}

/// Like [`send`] for hot endpoints whose bodies are large and whose content other scenarios check: the body
/// must be JSON with `"success": true` (or a probe's `"status": "ok"`), and is read without building a
/// document. `known` is the last body that passed: a body equal to it, byte for byte, passes without being
/// parsed again (a cached endpoint sends the same bytes until its entry changes, and comparing bytes costs
/// a fraction of scanning them as JSON), so the tool's own CPU per request stays close to that of a small
/// response. Returns whether the request passed.
pub async fn send_light(
    rec: &Recorder,
    label: &'static str,
    req: RequestBuilder,
    started: Instant,
    primary: bool,
    known: &mut Option<bytes::Bytes>,
) -> bool {
    send_judged(rec, label, req, started, primary, |raw| judge_light(raw.bytes, raw.encoding.as_deref(), known))
        .await
        .is_some()
}

/// [`send_light`]'s verdict on a 2xx body as received (compressed if `encoding` says so); `known` becomes
/// `body` when it passes.
fn judge_light(body: bytes::Bytes, encoding: Option<&str>, known: &mut Option<bytes::Bytes>) -> Result<(), Failure> {
    if known.as_ref() == Some(&body) {
        return Ok(());
    }
    let json = decode(&body, encoding)?;
    let shown = || excerpt(&String::from_utf8_lossy(&json));
    let env: Envelope =
        serde_json::from_slice(&json).map_err(|e| Failure::new("body is not JSON", format!("{e}: {}", shown())))?;
    if env.success == Some(true) || env.status.as_deref() == Some("ok") {
        *known = Some(body);
        Ok(())
    } else {
        Err(Failure::new("neither success nor status ok", shown()))
    }
}

/// Sends, records the latency to the last byte, and records `judge`'s verdict on a 2xx reply.
async fn send_judged<T>(
    rec: &Recorder,
    label: &'static str,
    req: RequestBuilder,
    started: Instant,
    primary: bool,
    judge: impl FnOnce(Raw) -> Result<T, Failure>,
) -> Option<T> {
    let (client, req) = req.build_split();
    let target = req.as_ref().ok().map(|r| match r.url().query() {
        Some(q) => format!("{}?{q}", r.url().path()),
        None => r.url().path().to_owned(),
    });
    let mut last_byte = None;
    let outcome = match req {
        Ok(req) => exchange(client.execute(req), &mut last_byte).await,
        Err(e) => Err(transport(e)),
    };
    // At the last byte: parsing and checking the body is the tool's work, not the server's.
    let latency = last_byte.unwrap_or_else(Instant::now).duration_since(started);
    let (value, outcome) = match outcome.and_then(judge) {
        Ok(v) => (Some(v), Ok(())),
        Err(f) => (None, Err(f)),
    };
    rec.record_request(label, target.as_deref(), latency, outcome, primary);
    value
}

/// Sends and reads the reply; `last_byte` is set when the whole body has arrived. Non-2xx is a failure.
async fn exchange(
    pending: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>,
    last_byte: &mut Option<Instant>,
) -> Result<Raw, Failure> {
    let resp = pending.await.map_err(transport)?;
    let status = resp.status();
    let session_cookie = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.starts_with(SESSION_COOKIE) && !s.contains("Max-Age=0")));
    let encoding = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let bytes = resp.bytes().await.map_err(transport)?;
    *last_byte = Some(Instant::now());
    if !status.is_success() {
        let hint = if status.as_u16() == 429 {
            " (rate limited: for login scenarios start the server with PITCHEY_LOGIN_RATE_PER_MINUTE=0)"
        } else {
            ""
        };
        return Err(Failure::new(format!("HTTP {}{hint}", status.as_u16()), excerpt(&String::from_utf8_lossy(&bytes))));
    }
    Ok(Raw { status: status.as_u16(), session_cookie, bytes, encoding })
}

fn transport(e: reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "transport error"
    };
    // The source chain says why (refused, reset, ...); the top-level message alone rarely does.
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    Failure::new(kind, detail)
}

fn excerpt(s: &str) -> String {
    s.chars().take(300).collect()
}

/// `success` is `true`.
pub fn success(r: &Reply) -> Result<(), String> {
    if r.body.get("success") == Some(&Value::Bool(true)) { Ok(()) } else { Err("success is not true".into()) }
}

/// `success` is `true` and the value at `pointer` is an array.
pub fn success_with_array(r: &Reply, pointer: &str) -> Result<(), String> {
    success(r)?;
    if r.at(pointer).is_array() { Ok(()) } else { Err(format!("{pointer} is not an array")) }
}

/// `success` is `true` and the value at `pointer` is a number.
pub fn success_with_number(r: &Reply, pointer: &str) -> Result<(), String> {
    success(r)?;
    if r.at(pointer).is_number() { Ok(()) } else { Err(format!("{pointer} is not a number")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(body: Value) -> Reply {
        Reply { status: 200, body, session_cookie: false }
    }

    #[test]
    fn body_checks() {
        let ok = reply(json!({"success": true, "items": [], "total": 3, "data": {"pitches": [1]}}));
        assert!(success(&ok).is_ok());
        assert!(success_with_array(&ok, "/items").is_ok());
        assert!(success_with_array(&ok, "/data/pitches").is_ok());
        assert!(success_with_number(&ok, "/total").is_ok());
        assert_eq!(success_with_array(&ok, "/data/items"), Err("/data/items is not an array".into()));
        let bad = reply(json!({"success": false, "items": []}));
        assert_eq!(success_with_array(&bad, "/items"), Err("success is not true".into()));
        assert_eq!(success(&reply(json!({"items": []}))), Err("success is not true".into()));
    }

    #[test]
    fn light_checks_parse_each_new_body_once() {
        let page = bytes::Bytes::from_static(br#"{"data":{"pitches":[]},"success":true}"#);
        let mut known = None;
        assert!(judge_light(page.clone(), None, &mut known).is_ok());
        assert_eq!(known.as_ref(), Some(&page));
        assert!(judge_light(page.clone(), None, &mut known).is_ok());
        // A body that differs in one byte is judged on its own, and a failure leaves the known body alone.
        let broken = bytes::Bytes::from_static(br#"{"data":{"pitches":[]},"success":true"#);
        assert!(judge_light(broken, None, &mut known).is_err_and(|f| f.kind == "body is not JSON"));
        let refused = bytes::Bytes::from_static(br#"{"data":{"pitches":[]},"success":false}"#);
        assert!(judge_light(refused, None, &mut known).is_err_and(|f| f.kind == "neither success nor status ok"));
        assert_eq!(known.as_ref(), Some(&page));
        let probe = bytes::Bytes::from_static(br#"{"status":"ok"}"#);
        assert!(judge_light(probe.clone(), None, &mut known).is_ok());
        assert_eq!(known, Some(probe));
    }

    #[test]
    fn light_checks_decode_compressed_bodies() {
        use std::io::Write;
        let gzip = |text: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(text).unwrap();
            bytes::Bytes::from(e.finish().unwrap())
        };
        let mut known = None;
        let page = gzip(br#"{"success":true,"items":[1,2,3]}"#);
        assert!(judge_light(page.clone(), Some("gzip"), &mut known).is_ok());
        assert_eq!(known.as_ref(), Some(&page), "the compressed bytes are what is compared next time");
        let refused = gzip(br#"{"success":false}"#);
        assert!(
            judge_light(refused, Some("gzip"), &mut known).is_err_and(|f| f.kind == "neither success nor status ok")
        );
        let garbage = bytes::Bytes::from_static(b"not gzip at all");
        assert!(
            judge_light(garbage.clone(), Some("gzip"), &mut known).is_err_and(|f| f.kind == "body does not decode")
        );
        assert!(judge_light(garbage.clone(), Some("br"), &mut known).is_err_and(|f| f.kind == "body does not decode"));
        assert!(judge_light(garbage, Some("zstd"), &mut known).is_err_and(|f| f.kind == "unknown content-encoding"));
    }
}
