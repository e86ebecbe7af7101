//! Parsed input types: once constructed they are valid ("parse, don't validate").

use std::fmt;

/// Why an input value was rejected; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

impl ValidationError {
    /// A rejection with the given human message.
    pub fn new(msg: impl Into<String>) -> Self {
        ValidationError(msg.into())
    }
}

/// Rejects free text longer than `max` characters (`what` names the field in the message): every stored
/// text has a limit, so that no request stores megabytes.
pub fn at_most(text: Option<&str>, max: usize, what: &str) -> Result<(), ValidationError> {
    match text {
        Some(t) if t.chars().count() > max => Err(ValidationError(format!("{what} must be at most {max} characters"))),
        _ => Ok(()),
    }
}

/// A syntactically valid email address, trimmed and lower-cased (emails are unique case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim().to_lowercase();
        let invalid = || ValidationError::new("A valid email address is required");
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.len() > 64
            || domain.is_empty()
            || domain.contains('@')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || !domain.contains('.')
        {
            return Err(invalid());
        }
        Ok(Email(s))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that satisfies the server's rule: 8 to 128 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Minimum length in characters.
    pub const MIN: usize = 8;
    /// Maximum length in characters (bounds the hashing cost of hostile input).
    pub const MAX: usize = 128;

    /// Checks the length rule.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let n = raw.chars().count();
        if n < Self::MIN {
            return Err(ValidationError::new(format!("Password must be at least {} characters", Self::MIN)));
        }
        if n > Self::MAX {
            return Err(ValidationError::new(format!("Password must be at most {} characters", Self::MAX)));
        }
        Ok(Password(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A public handle: 3 to 50 characters of letters, digits, `_`, `.` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Validates a handle chosen by the user.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let n = s.chars().count();
        if !(3..=50).contains(&n) {
            return Err(ValidationError::new("Username must be 3 to 50 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(ValidationError::new("Username may contain only letters, digits, '_', '.' and '-'"));
        }
        Ok(Username(s.to_owned()))
    }

    /// Derives a handle from an email's local part (the default when sign-up sends none).
    pub fn from_email(email: &Email) -> Self {
        let mut s: String = email
            .local_part()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .take(40)
            .collect();
        while s.chars().count() < 3 {
            s.push('_');
        }
        Username(s)
    }

    /// Appends a suffix (used to make a derived handle unique), keeping the length rule.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        let keep = 50usize.saturating_sub(suffix.len() + 1);
        let base: String = self.0.chars().take(keep).collect();
        Username(format!("{base}_{suffix}"))
    }

    /// The handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits_count_characters() {
        assert!(at_most(None, 3, "bio").is_ok());
        assert!(at_most(Some("ééé"), 3, "bio").is_ok());
        assert_eq!(at_most(Some("abcd"), 3, "bio"), Err(ValidationError::new("bio must be at most 3 characters")));
    }
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Alex.Creator@Demo.com ").map(|e| e.to_string()),
            Ok("alex.creator@demo.com".to_owned())
        );
        for bad in ["", "no-at", "@x.com", "a@", "a@b", "a b@c.com", "a@@b.com", "a@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn password_length_rule() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret123").ok()), "Some(Password(***))");
    }

    #[test]
    fn usernames() {
        let e = Email::parse("jo@x.io").expect("valid");
        assert_eq!(Username::from_email(&e).as_str(), "jo_");
        assert!(Username::parse("ok_name").is_ok());
        assert!(Username::parse("no spaces").is_err());
        let long = Username::parse(&"a".repeat(50)).expect("valid");
        assert_eq!(long.with_suffix("abc123").as_str().len(), 50);
    }

    proptest! {
        #[test]
        fn derived_usernames_always_parse(local in "[a-zA-Z0-9._+-]{1,70}") {
            if let Ok(e) = Email::parse(&format!("{local}@example.com")) {
                let u = Username::from_email(&e);
                prop_assert!(Username::parse(u.as_str()).is_ok());
                prop_assert!(Username::parse(u.with_suffix("zz9xq1").as_str()).is_ok());
            }
        }
    }
}
