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

/// A JSON body. Malformed JSON → 400, wrong types or missing fields → 422, too large → 413, not JSON → 415.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
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
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Expected a JSON body with Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body is too large")
        }
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
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "Request body is too large")
            } else {
                ApiError::bad_request(format!("Could not read the request body: {}", e.body_text()))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrEmpty(T::default()));
        }
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
pub fn client_ip(peer: IpAddr, xff: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Walk from the nearest hop outwards; the first address not ours is the client.
    let hops: Vec<IpAddr> = xff.split(',').filter_map(|h| h.trim().parse().ok()).collect();
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
    }
}
