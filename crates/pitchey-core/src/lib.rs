//! Pitchey's domain: the types every other crate speaks, the rules that decide who may see or change what,
//! and input validation. Pure code with no I/O, so it is unit- and property-tested and also builds for
//! `wasm32-unknown-unknown`.

pub mod access;
pub mod catalog;
pub mod nda;
pub mod pitch;
pub mod search;
pub mod types;
pub mod validate;

pub use access::{PitchAccess, Viewer};
pub use nda::{NdaAction, NdaActor, NdaError, NdaStatus};
pub use pitch::{FieldKind, FieldRef, PitchFields};
pub use types::{PitchStatus, UserType, Visibility};
pub use validate::{Email, Password, Username, ValidationError};
