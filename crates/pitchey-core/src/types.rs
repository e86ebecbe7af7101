//! Enumerations stored in the database and sent on the wire.

/// Error for a string that names no variant of an enumeration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownVariant {
    /// The enumeration being parsed.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::types::UnknownVariant;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::types::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::types::UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// The kind of account; the three marketplace portals map one-to-one to the first three.
    UserType, "user type", {
        /// Pitches projects.
        Creator => "creator",
        /// Browses, requests NDAs, invests.
        Investor => "investor",
        /// Production company: pitches and browses.
        Production => "production",
        /// Operator of the platform.
        Admin => "admin",
        /// Legacy read-only account type.
        Viewer => "viewer",
    }
);

impl UserType {
    /// May this kind of account create, edit and publish pitches?
    pub fn can_own_pitches(self) -> bool {
        matches!(self, UserType::Creator | UserType::Production | UserType::Admin)
    }

    /// May this kind of account request (and sign) NDAs?
    pub fn can_request_ndas(self) -> bool {
        matches!(self, UserType::Investor | UserType::Production | UserType::Admin)
    }

    /// The user types someone may sign up as through the public form.
    pub fn is_self_service(self) -> bool {
        matches!(self, UserType::Creator | UserType::Investor | UserType::Production)
    }
}

string_enum!(
    /// Where a pitch is in its life.
    PitchStatus, "pitch status", {
        /// Being written; visible to its owner only.
        Draft => "draft",
        /// Submitted for review; visible to its owner only.
        UnderReview => "under_review",
        /// Live in the marketplace.
        Published => "published",
        /// Withdrawn by its owner.
        Archived => "archived",
        /// Legacy: hidden by moderation.
        Hidden => "hidden",
    }
);

string_enum!(
    /// Who a published pitch is listed for.
    Visibility, "visibility", {
        /// Not listed (the state of a new draft).
        Private => "private",
        /// Everyone, including anonymous visitors.
        Public => "public",
        /// Signed-in investors (listed in the marketplace, not on the anonymous home page).
        InvestorsOnly => "investors_only",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        for t in UserType::ALL {
            assert_eq!(t.as_str().parse::<UserType>(), Ok(*t));
        }
        for s in PitchStatus::ALL {
            assert_eq!(s.as_str().parse::<PitchStatus>(), Ok(*s));
        }
        assert_eq!(" Investor ".parse::<UserType>(), Ok(UserType::Investor));
        assert!("wizard".parse::<UserType>().is_err());
    }

    #[test]
    fn permissions_follow_the_contract() {
        assert!(UserType::Production.can_own_pitches());
        assert!(UserType::Production.can_request_ndas());
        assert!(!UserType::Investor.can_own_pitches());
        assert!(!UserType::Creator.can_request_ndas());
        assert!(!UserType::Admin.is_self_service());
    }
}
