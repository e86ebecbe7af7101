//! The NDA state machine. One NDA row carries a request from its requester (an investor or production
//! company) to a pitch's owner, and later the requester's signature.
//!
//! ```text
//! pending ──approve──▶ approved ──sign──▶ signed
//!    │                    │  ╲               │
//!  reject              expire  revoke      revoke / expire
//!    ▼                    ▼      ▼           ▼
//! rejected             expired  revoked   revoked / expired
//! ```
//! A new request for the same pitch is allowed once the previous one is rejected, expired or revoked.
//! `expires_at` bounds an approved or signed NDA: past it, the NDA grants nothing and reads as `expired`.

use crate::types::{UserType, string_enum};

string_enum!(
    /// The state of one NDA.
    NdaStatus, "NDA status", {
        /// Requested, awaiting the owner's decision.
        Pending => "pending",
        /// Approved by the owner: grants access, awaiting the requester's signature.
        Approved => "approved",
        /// Declined by the owner.
        Rejected => "rejected",
        /// Signed by the requester: grants access.
        Signed => "signed",
        /// Past its `expires_at`.
        Expired => "expired",
        /// Withdrawn by the owner.
        Revoked => "revoked",
    }
);

impl NdaStatus {
    /// Does an NDA in this state unlock the pitch's protected content?
    pub fn grants_access(self) -> bool {
        matches!(self, NdaStatus::Approved | NdaStatus::Signed)
    }

    /// Is this NDA finished, so that the requester may ask again?
    pub fn allows_new_request(self) -> bool {
        matches!(self, NdaStatus::Rejected | NdaStatus::Expired | NdaStatus::Revoked)
    }

    /// The state as seen at a moment: an approved or signed NDA past its expiry reads as expired.
    pub fn effective(self, expired: bool) -> NdaStatus {
        if expired && self.grants_access() { NdaStatus::Expired } else { self }
    }
}

/// Something a party does to an existing NDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdaAction {
    /// The owner accepts the request.
    Approve,
    /// The owner declines the request.
    Reject,
    /// The requester signs an approved NDA.
    Sign,
    /// The owner withdraws access.
    Revoke,
    /// Time runs out (done by the system, not a party).
    Expire,
}

impl NdaAction {
    /// Every action.
    pub const ALL: &'static [NdaAction] =
        &[NdaAction::Approve, NdaAction::Reject, NdaAction::Sign, NdaAction::Revoke, NdaAction::Expire];

    fn verb(self) -> &'static str {
        match self {
            NdaAction::Approve => "approved",
            NdaAction::Reject => "rejected",
            NdaAction::Sign => "signed",
            NdaAction::Revoke => "revoked",
            NdaAction::Expire => "expired",
        }
    }
}

/// Who is acting, relative to one NDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdaActor {
    /// The owner of the pitch the NDA is for.
    Owner,
    /// The user who requested the NDA.
    Requester,
    /// Anyone else.
    Stranger,
    /// The system (expiry sweeps).
    System,
}

/// Why an NDA request or action was refused. Each maps to one HTTP status in the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NdaError {
    /// The actor is no party to this NDA: it is reported as not found, so its existence does not leak.
    #[error("NDA not found or not authorized")]
    NotFound,
    /// The actor is a party but this action is not theirs to take.
    #[error("Only the {0} can do this")]
    WrongParty(&'static str),
    /// This kind of account cannot request NDAs.
    #[error("Only investors and production companies can request NDAs")]
    RoleNotAllowed,
    /// Owners do not request NDAs on their own pitches.
    #[error("You cannot request an NDA for your own pitch")]
    OwnPitch,
    /// An open or granted NDA already exists for this requester and pitch.
    #[error("NDA request already exists")]
    AlreadyExists,
    /// Signing needs an approved NDA (the contract's message).
    #[error("NDA must be approved before signing")]
    NotApproved,
    /// Any other action not allowed from the current state.
    #[error("An NDA that is {from} cannot be {verb}")]
    InvalidTransition {
        /// The state the NDA is in.
        from: NdaStatus,
        /// The attempted action, as a past participle.
        verb: &'static str,
    },
}

/// May `user_type` (owner of the pitch or not) request an NDA, given the latest existing one, if any?
pub fn check_request(user_type: UserType, is_owner: bool, latest: Option<NdaStatus>) -> Result<(), NdaError> {
    if is_owner {
        return Err(NdaError::OwnPitch);
    }
    if !user_type.can_request_ndas() {
        return Err(NdaError::RoleNotAllowed);
    }
    match latest {
        Some(s) if !s.allows_new_request() => Err(NdaError::AlreadyExists),
        _ => Ok(()),
    }
}

/// Applies `action` by `actor` to an NDA whose effective state is `from`; returns the new state.
pub fn transition(from: NdaStatus, action: NdaAction, actor: NdaActor) -> Result<NdaStatus, NdaError> {
    use NdaAction as A;
    use NdaStatus as S;
    let required = match action {
        A::Approve | A::Reject | A::Revoke => NdaActor::Owner,
        A::Sign => NdaActor::Requester,
        A::Expire => NdaActor::System,
    };
    if actor != required {
        return Err(match (actor, required) {
            (NdaActor::Stranger, _) => NdaError::NotFound,
            (_, NdaActor::Owner) => NdaError::WrongParty("pitch owner"),
            (_, NdaActor::Requester) => NdaError::WrongParty("requester"),
            _ => NdaError::WrongParty("system"),
        });
    }
    let to = match (from, action) {
        (S::Pending, A::Approve) => S::Approved,
        (S::Pending, A::Reject) => S::Rejected,
        (S::Approved, A::Sign) => S::Signed,
        (S::Approved | S::Signed, A::Revoke) => S::Revoked,
        (S::Approved | S::Signed, A::Expire) => S::Expired,
        (_, A::Sign) => return Err(NdaError::NotApproved),
        (from, action) => {
            return Err(NdaError::InvalidTransition { from, verb: action.verb() });
        }
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_happy_paths() {
        let s = transition(NdaStatus::Pending, NdaAction::Approve, NdaActor::Owner);
        assert_eq!(s, Ok(NdaStatus::Approved));
        assert_eq!(transition(NdaStatus::Approved, NdaAction::Sign, NdaActor::Requester), Ok(NdaStatus::Signed));
        assert_eq!(transition(NdaStatus::Signed, NdaAction::Revoke, NdaActor::Owner), Ok(NdaStatus::Revoked));
        assert_eq!(transition(NdaStatus::Pending, NdaAction::Reject, NdaActor::Owner), Ok(NdaStatus::Rejected));
    }

    #[test]
    fn forbidden_moves_get_specific_errors() {
        assert_eq!(transition(NdaStatus::Pending, NdaAction::Sign, NdaActor::Requester), Err(NdaError::NotApproved));
        assert_eq!(
            transition(NdaStatus::Pending, NdaAction::Approve, NdaActor::Requester),
            Err(NdaError::WrongParty("pitch owner"))
        );
        assert_eq!(transition(NdaStatus::Pending, NdaAction::Approve, NdaActor::Stranger), Err(NdaError::NotFound));
        assert!(matches!(
            transition(NdaStatus::Rejected, NdaAction::Approve, NdaActor::Owner),
            Err(NdaError::InvalidTransition { .. })
        ));
        assert_eq!(check_request(UserType::Creator, false, None), Err(NdaError::RoleNotAllowed));
        assert_eq!(check_request(UserType::Investor, true, None), Err(NdaError::OwnPitch));
        assert_eq!(check_request(UserType::Investor, false, Some(NdaStatus::Pending)), Err(NdaError::AlreadyExists));
        assert_eq!(check_request(UserType::Production, false, Some(NdaStatus::Revoked)), Ok(()));
    }

    fn any_status() -> impl Strategy<Value = NdaStatus> {
        proptest::sample::select(NdaStatus::ALL.to_vec())
    }
    fn any_action() -> impl Strategy<Value = NdaAction> {
        proptest::sample::select(NdaAction::ALL.to_vec())
    }
    fn any_actor() -> impl Strategy<Value = NdaActor> {
        proptest::sample::select(vec![NdaActor::Owner, NdaActor::Requester, NdaActor::Stranger, NdaActor::System])
    }

    proptest! {
        /// Random walks never reach a state the rules forbid, and every refusal is one of the named errors.
        #[test]
        fn random_walks_respect_the_rules(steps in proptest::collection::vec((any_action(), any_actor()), 1..40)) {
            let mut s = NdaStatus::Pending;
            let mut was_approved = false;
            for (action, actor) in steps {
                match transition(s, action, actor) {
                    Ok(next) => {
                        // Only the right party moves an NDA.
                        let party = match action {
                            NdaAction::Sign => NdaActor::Requester,
                            NdaAction::Expire => NdaActor::System,
                            _ => NdaActor::Owner,
                        };
                        prop_assert_eq!(actor, party);
                        // Signed is reachable only through approved; final states are final.
                        if next == NdaStatus::Signed { prop_assert!(was_approved); }
                        prop_assert!(!s.allows_new_request(), "left final state {}", s);
                        if next == NdaStatus::Approved { was_approved = true; }
                        s = next;
                    }
                    Err(NdaError::NotFound) => prop_assert_eq!(actor, NdaActor::Stranger),
                    Err(NdaError::WrongParty(_)) => prop_assert!(actor != NdaActor::Stranger),
                    Err(NdaError::NotApproved) => prop_assert!(action == NdaAction::Sign && s != NdaStatus::Approved),
                    Err(NdaError::InvalidTransition { from, .. }) => prop_assert_eq!(from, s),
                    Err(e) => prop_assert!(false, "unexpected error {e:?}"),
                }
            }
        }

        #[test]
        fn access_only_from_granting_states(s in any_status(), expired in any::<bool>()) {
            let eff = s.effective(expired);
            prop_assert_eq!(eff.grants_access(), !expired && matches!(s, NdaStatus::Approved | NdaStatus::Signed));
        }
    }
}
