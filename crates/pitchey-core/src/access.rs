//! Who may see what of a pitch (contract §3.2, §5.5).

use crate::nda::NdaStatus;
use crate::types::{PitchStatus, UserType};

/// A signed-in user looking at a pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The viewer's user id.
    pub user_id: i64,
    /// The viewer's account type.
    pub user_type: UserType,
}

/// What one viewer may see of one pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PitchAccess {
    /// The pitch is not visible to this viewer at all (someone else's draft, archived pitch...).
    Hidden,
    /// Public fields only; the creator is hidden when the pitch requires an NDA.
    Public,
    /// Public and protected fields, through an approved or signed, unexpired NDA.
    Nda,
    /// Everything: the viewer owns the pitch.
    Owner,
}

impl PitchAccess {
    /// Decides access. `nda` is the viewer's latest NDA for this pitch in its effective state (expiry applied).
    pub fn decide(viewer: Option<Viewer>, owner_id: i64, status: PitchStatus, nda: Option<NdaStatus>) -> PitchAccess {
        let is_owner = viewer.is_some_and(|v| v.user_id == owner_id);
        if is_owner {
            return PitchAccess::Owner;
        }
        if status != PitchStatus::Published {
            return PitchAccess::Hidden;
        }
        match nda {
            Some(s) if viewer.is_some() && s.grants_access() => PitchAccess::Nda,
            _ => PitchAccess::Public,
        }
    }

    /// May the protected fields (§3.2 "P" columns) be shown?
    pub fn protected(self) -> bool {
        matches!(self, PitchAccess::Nda | PitchAccess::Owner)
    }

    /// May the creator's identity be shown, given whether the pitch requires an NDA?
    pub fn shows_creator(self, require_nda: bool) -> bool {
        !require_nda || self.protected()
    }

    /// Is the pitch visible at all?
    pub fn visible(self) -> bool {
        self != PitchAccess::Hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OWNER: i64 = 7;

    fn viewer(id: i64) -> Option<Viewer> {
        Some(Viewer { user_id: id, user_type: UserType::Investor })
    }

    #[test]
    fn owner_sees_everything_even_drafts() {
        let a = PitchAccess::decide(viewer(OWNER), OWNER, PitchStatus::Draft, None);
        assert_eq!(a, PitchAccess::Owner);
        assert!(a.protected());
    }

    #[test]
    fn strangers_never_see_drafts_and_need_an_nda() {
        assert_eq!(PitchAccess::decide(viewer(1), OWNER, PitchStatus::Draft, None), PitchAccess::Hidden);
        let public = PitchAccess::decide(None, OWNER, PitchStatus::Published, None);
        assert!(!public.protected());
        assert!(!public.shows_creator(true));
        assert!(public.shows_creator(false));
        let pending = PitchAccess::decide(viewer(1), OWNER, PitchStatus::Published, Some(NdaStatus::Pending));
        assert_eq!(pending, PitchAccess::Public);
        let signed = PitchAccess::decide(viewer(1), OWNER, PitchStatus::Published, Some(NdaStatus::Signed));
        assert_eq!(signed, PitchAccess::Nda);
    }

    proptest! {
        #[test]
        fn protected_iff_owner_or_granting_nda(
            viewer_id in proptest::option::of(0i64..10),
            status in proptest::sample::select(PitchStatus::ALL.to_vec()),
            nda in proptest::option::of(proptest::sample::select(NdaStatus::ALL.to_vec())),
        ) {
            let v = viewer_id.map(|id| Viewer { user_id: id, user_type: UserType::Production });
            let a = PitchAccess::decide(v, OWNER, status, nda);
            let is_owner = viewer_id == Some(OWNER);
            let granted = viewer_id.is_some() && status == PitchStatus::Published && nda.is_some_and(|s| s.grants_access());
            prop_assert_eq!(a.protected(), is_owner || granted);
            prop_assert_eq!(a.visible(), is_owner || status == PitchStatus::Published);
        }
    }
}
