//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the directory at compile time,
//! and a proc macro cannot tell Cargo to watch it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
