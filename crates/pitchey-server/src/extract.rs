//! Our own extractors: a malformed body, query or path gets our error envelope with a clear message,
//! never the framework's plain text.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};

/// A JSON body. Malformed JSON → 400, wrong types or missing fields → 422, too large → 413, not JSON → 415,
/// a NUL character in a string → 400.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        reject_nul(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

/// `application/json` or `application/*+json`, parameters aside (what axum's `Json` accepts).
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// How long a request's body may take to arrive, set on each request by the app's middleware.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub std::time::Duration);

/// The whole body, within the body limit (413 beyond it) and the [`BodyReadTimeout`] (408 past it: nothing
/// was done, and a client that stalls part-way holds no handler beyond it).
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<axum::body::Bytes, ApiError> {
    let limit = req.extensions().get::<BodyReadTimeout>().map(|t| t.0);
    let read = axum::body::Bytes::from_request(req, state);
    let read = match limit {
        Some(limit) => tokio::time::timeout(limit, read).await.map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!("The request body did not arrive within {} seconds", limit.as_secs()),
            )
        })?,
        None => read.await,
    };
    read.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body is too large")
        } else {
            ApiError::bad_request(format!("Could not read the request body: {}", e.body_text()))
        }
    })
}

/// No text we store may hold a NUL character: PostgreSQL refuses it in `text` and `jsonb` (SQLite would
/// store it, and the backends must agree). In JSON it can only be written `\u0000`: a raw control character
/// is malformed JSON.
fn reject_nul(json: &[u8]) -> Result<(), ApiError> {
    let mut i = 0;
    while let Some(at) = json.get(i..).and_then(|rest| rest.iter().position(|b| *b == b'\\')) {
        let escape = i + at;
        if json.get(escape + 1..escape + 6) == Some(b"u0000".as_slice()) {
            return Err(ApiError::validation("Text must not contain NUL characters (\\u0000)"));
        }
        i = escape + 2; // the escaped character, a backslash included, is not the start of another escape
    }
    Ok(())
}

/// A query string or path with a percent-encoded NUL (`%00`) is refused, for the reason of [`reject_nul`].
fn reject_encoded_nul(raw: &str) -> Result<(), ApiError> {
    if raw.contains("%00") {
        return Err(ApiError::bad_request("The URL must not contain NUL characters (%00)"));
    }
    Ok(())
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("Malformed JSON body: {}", inner_text(&e.body_text())),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            format!("Invalid request body: {}", inner_text(&e.body_text())),
        ),
        other => ApiError::bad_request(format!("Could not read the request body: {}", other.body_text())),
    }
}

/// A JSON body that may be absent: an empty body is `T::default()` (actions such as approve are sent with
/// `{}` or nothing). A non-empty body must be valid JSON of the right shape.
#[derive(Debug, Clone, Default)]
pub struct JsonOrEmpty<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrEmpty(T::default()));
        }
        reject_nul(&bytes)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        T::deserialize(&mut de).and_then(|v| de.end().map(|()| v)).map(JsonOrEmpty).map_err(|e| {
            if e.is_data() {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "VALIDATION_ERROR",
                    format!("Invalid request body: {e}"),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", format!("Malformed JSON body: {e}"))
            }
        })
    }
}

/// axum prefixes serde's message with a sentence of its own; keep the part that names the problem.
fn inner_text(s: &str) -> String {
    s.split_once(": ").map_or(s, |(_, rest)| rest).to_owned()
}

/// Query-string parameters. Unparseable values → 400.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        reject_encoded_nul(parts.uri.query().unwrap_or(""))?;
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| ApiQuery(q.0)).map_err(
            |e: QueryRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_QUERY",
                    format!("Invalid query string: {}", inner_text(&e.body_text())),
                )
            },
        )
    }
}

/// Path parameters. Unparseable values (a non-numeric id) → 400.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        reject_encoded_nul(parts.uri.path())?;
        axum::extract::Path::<T>::from_request_parts(parts, state).await.map(|p| ApiPath(p.0)).map_err(
            |e: PathRejection| ApiError::bad_request(format!("Invalid path parameter: {}", inner_text(&e.body_text()))),
        )
    }
}

/// The client's address: the socket peer, or the first untrusted hop of `X-Forwarded-For` when the peer is
/// a configured trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let xff = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        Ok(ClientIp(client_ip(peer, &xff, &state.trusted_proxies)))
    }
}

/// Resolves the client address from the peer and an `X-Forwarded-For` value.
/// Addresses are compared in canonical form: a dual-stack listener sees an IPv4 peer as `::ffff:a.b.c.d`,
/// which would not match a trusted `10.0.0.0/8`.
pub fn client_ip(peer: IpAddr, xff: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    // Walk from the nearest hop outwards; the first address not ours is the client.
    let hops: Vec<IpAddr> =
        xff.split(',').filter_map(|h| h.trim().parse::<IpAddr>().ok()).map(|ip| ip.to_canonical()).collect();
    hops.iter().rev().find(|ip| !is_trusted(ip)).or(hops.first()).copied().unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpNet = "10.0.0.0/8".parse().unwrap_or_else(|_| unreachable!());
        let peer_proxy: IpAddr = [10, 0, 0, 5].into();
        let outsider: IpAddr = [203, 0, 113, 9].into();
        // Untrusted peer: its own header is ignored.
        assert_eq!(client_ip(outsider, "1.2.3.4", &[proxy]), outsider);
        // Trusted peer: the nearest untrusted hop wins, even if the client forged earlier entries.
        assert_eq!(
            client_ip(peer_proxy, "6.6.6.6, 198.51.100.7, 10.0.0.2", &[proxy]),
            "198.51.100.7".parse().unwrap_or(outsider)
        );
        // Trusted peer without a usable header: the peer.
        assert_eq!(client_ip(peer_proxy, "garbage", &[proxy]), peer_proxy);
        // A dual-stack listener sees the proxy as an IPv4-mapped address; it is still the trusted proxy.
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap_or(outsider);
        assert_eq!(client_ip(mapped, "198.51.100.7", &[proxy]), "198.51.100.7".parse().unwrap_or(outsider));
        assert_eq!(client_ip("::ffff:203.0.113.9".parse().unwrap_or(outsider), "", &[proxy]), outsider);
    }
}
