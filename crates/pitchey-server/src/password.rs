//! Password hashing. Everything written is argon2id (the crate's defaults: 19 MiB, 2 passes). Verification
//! also accepts the legacy formats an imported Pitchey user table holds — `pbkdf2:` (PBKDF2-HMAC-SHA256,
//! 100,000 rounds, base64 of a 16-byte salt then the 32-byte key) and bcrypt (`$2a$`, `$2b$`, `$2y$`) — and
//! asks for a rehash when one of those matches. Anything else never verifies (legacy plaintext is refused).

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Sha256;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Correct, and the hash is current.
    Valid,
    /// Correct, but stored in a legacy format: store a fresh argon2id hash.
    ValidNeedsRehash,
    /// Wrong password or unrecognised hash.
    Invalid,
}

/// Hashes with argon2id and a random salt (CPU-heavy: call on the blocking pool).
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks `password` against `stored` in any supported format (CPU-heavy: call on the blocking pool).
pub fn verify(password: &str, stored: &str) -> Verdict {
    let ok = |b: bool| {
        if b { Verdict::ValidNeedsRehash } else { Verdict::Invalid }
    };
    if stored.starts_with("$argon2") {
        match Argon2::default().verify_password(password.as_bytes(), stored) {
            Ok(()) => Verdict::Valid,
            Err(_) => Verdict::Invalid,
        }
    } else if let Some(b64) = stored.strip_prefix("pbkdf2:") {
        ok(verify_pbkdf2(password, b64))
    } else if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        ok(bcrypt::verify(password, stored).unwrap_or(false))
    } else {
        Verdict::Invalid
    }
}

const PBKDF2_ROUNDS: u32 = 100_000;

fn verify_pbkdf2(password: &str, b64: &str) -> bool {
    let Ok(raw) = STANDARD.decode(b64.trim()) else {
        return false;
    };
    if raw.len() != 48 {
        return false;
    }
    let (salt, expected) = raw.split_at(16);
    let mut got = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, PBKDF2_ROUNDS, &mut got);
    // Constant-time comparison.
    got.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Produces a legacy `pbkdf2:` hash (tests and import tooling only; never used for new passwords).
pub fn legacy_pbkdf2(password: &str, salt: [u8; 16]) -> String {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, PBKDF2_ROUNDS, &mut key);
    let mut raw = salt.to_vec();
    raw.extend_from_slice(&key);
    format!("pbkdf2:{}", STANDARD.encode(raw))
}

/// Produces a bcrypt hash in the `$2a$` spelling the original platform's seed data used (tests only).
pub fn legacy_bcrypt_for_tests(password: &str) -> String {
    bcrypt::hash(password, 4).map(|h| h.replacen("$2b$", "$2a$", 1)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = hash("correct horse").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify("correct horse", &h), Verdict::Valid);
        assert_eq!(verify("wrong horse", &h), Verdict::Invalid);
    }

    #[test]
    fn legacy_formats_verify_and_ask_for_rehash() {
        let p = legacy_pbkdf2("Demo123", [7; 16]);
        assert_eq!(verify("Demo123", &p), Verdict::ValidNeedsRehash);
        assert_eq!(verify("demo123", &p), Verdict::Invalid);
        let b = bcrypt::hash("Demo123", 4).unwrap_or_default().replacen("$2b$", "$2a$", 1);
        assert_eq!(verify("Demo123", &b), Verdict::ValidNeedsRehash);
        assert_eq!(verify("nope", &b), Verdict::Invalid);
        // Plaintext and garbage never verify.
        assert_eq!(verify("Demo123", "Demo123"), Verdict::Invalid);
        assert_eq!(verify("x", "pbkdf2:!!!"), Verdict::Invalid);
    }
}
