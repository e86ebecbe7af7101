//! What the scenarios need to know about the server's data, found once before the run the way a client
//! would: filter values from `/api/config/all`, published pitch ids from the public lists, and the demo
//! creator's NDA-protected pitches for the journey. Discovery requests are not measured.

use crate::http;
use crate::scenarios::{CREATOR, DEMO_PASSWORD};
use anyhow::{Context, anyhow, bail};
use reqwest::Client;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Data the scenarios draw from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Genre labels (browse filter).
    pub genres: Vec<String>,
    /// Format labels (browse filter).
    pub formats: Vec<String>,
    /// Budget range labels (browse filter).
    pub budget_ranges: Vec<String>,
    /// Stage labels (browse filter).
    pub stages: Vec<String>,
    /// Published pitches, most popular first (public detail pages).
    pub pitch_ids: Vec<i64>,
    /// The demo creator's published pitches that require an NDA (journey).
    pub nda_pitch_ids: Vec<i64>,
}

/// The strings of the array at `pointer`.
fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The `id`s of the objects in the array at `pointer`.
fn ids(v: &Value, pointer: &str) -> Vec<i64> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.get("id").and_then(Value::as_i64)).collect())
        .unwrap_or_default()
}

async fn get_json(client: &Client, url: String) -> anyhow::Result<Value> {
    let resp = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let text = resp.text().await.with_context(|| format!("GET {url}: body"))?;
    if !status.is_success() {
        bail!("GET {url}: HTTP {status}: {}", text.chars().take(200).collect::<String>());
    }
    serde_json::from_str(&text).with_context(|| format!("GET {url}: not JSON"))
}

impl Catalog {
    /// Reads the catalogue from the server at `base`; `with_nda` also signs in as the demo creator to list
    /// the NDA pitches (needed by the journey only).
    pub async fn discover(base: &str, timeout: Duration, with_nda: bool) -> anyhow::Result<Catalog> {
        let client = http::client(timeout, true)?;
        let config = get_json(&client, format!("{base}/api/config/all")).await?;
        let mut seen = BTreeSet::new();
        let mut pitch_ids = Vec::new();
        for path in ["/api/browse?tab=popular&limit=100", "/api/pitches/public/trending?limit=50"] {
            let v = get_json(&client, format!("{base}{path}")).await?;
            for id in ids(&v, "/items").into_iter().chain(ids(&v, "/data/pitches")) {
                if seen.insert(id) {
                    pitch_ids.push(id);
                }
            }
        }
        if pitch_ids.is_empty() {
            bail!("the server lists no published pitches: seed it (`pitchey seed`) before a load test");
        }
        let nda_pitch_ids = if with_nda { creator_nda_pitches(&client, base).await? } else { Vec::new() };
        Ok(Catalog {
            genres: strings(&config, "/data/genres"),
            formats: strings(&config, "/data/formats"),
            budget_ranges: strings(&config, "/data/budgetRanges"),
            stages: strings(&config, "/data/stages"),
            pitch_ids,
            nda_pitch_ids,
        })
    }
}

/// Signs in as the demo creator and lists their published pitches that require an NDA.
async fn creator_nda_pitches(client: &Client, base: &str) -> anyhow::Result<Vec<i64>> {
    let url = format!("{base}/api/auth/{}/login", CREATOR.portal);
    let resp = client
        .post(&url)
        .json(&json!({"email": CREATOR.email, "password": DEMO_PASSWORD}))
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    if !resp.status().is_success() {
        let hint =
            if resp.status().as_u16() == 429 { " (start the server with PITCHEY_LOGIN_RATE_PER_MINUTE=0)" } else { "" };
        bail!("signing in as {} failed: HTTP {}{hint}", CREATOR.email, resp.status());
    }
    let mine = get_json(client, format!("{base}/api/creator/pitches?status=published&limit=100")).await?;
    let list =
        mine.get("pitches").and_then(Value::as_array).ok_or_else(|| anyhow!("/api/creator/pitches: no pitches[]"))?;
    let ids: Vec<i64> = list
        .iter()
        .filter(|p| p.get("status").and_then(Value::as_str) == Some("published"))
        .filter(|p| p.get("requireNDA").and_then(Value::as_bool) == Some(true))
        .filter_map(|p| p.get("id").and_then(Value::as_i64))
        .collect();
    if ids.is_empty() {
        bail!("{} owns no published pitch that requires an NDA: the journey needs the demo data", CREATOR.email);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_strings_and_ids() {
        let v = json!({"data": {"genres": ["Drama", 3, "Comedy"], "pitches": [{"id": 4}, {"id": "x"}, {"id": 9}]}});
        assert_eq!(strings(&v, "/data/genres"), vec!["Drama", "Comedy"]);
        assert_eq!(ids(&v, "/data/pitches"), vec![4, 9]);
        assert!(ids(&v, "/items").is_empty());
    }
}
