//! The Pitchey HTTP API server: the JSON API the Pitchey web client speaks, over the store.
//!
//! [`app::build`] turns [`config::Settings`] into an application and [`app::serve`] serves it on a bound
//! listener, so tests run the real thing on port 0.

#![recursion_limit = "256"] // large `json!` literals for wire shapes

pub mod app;
pub mod caching;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod listen;
pub mod observability;
pub mod password;
pub mod ratelimit;
mod routes;
pub mod session;
pub mod state;
pub mod tasks;
pub mod wire;

pub use app::{App, build, serve};
pub use config::Settings;
