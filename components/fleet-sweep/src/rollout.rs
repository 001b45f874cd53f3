//! Image rollout decisions: when the configured image changes, machines on other images are updated a
//! few per sweep; too many failures halt the rollout until the image changes again. Pure: the state lives in
//! `fleet_state` under [`ROLLOUT_STATE_KEY`] and the sweep performs the updates.

use serde::{Deserialize, Serialize};

/// The `fleet_state` key of the rollout.
pub const ROLLOUT_STATE_KEY: &str = "health.rollout";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStatus {
    InProgress,
    Completed,
    /// Too many updated machines failed health; nothing more is updated to `target_image`.
    Halted,
}

/// Rollout progress, kept across sweeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    pub target_image: String,
    /// The image machines ran before; repairs use it while the rollout is halted.
    pub previous_image: Option<String>,
    pub status: RolloutStatus,
    pub updated: u32,
    pub failed: u32,
}

impl RolloutState {
    /// A rollout towards `image`. The first state ever recorded has nothing to compare against.
    pub fn begin(image: &str, before: Option<&RolloutState>) -> RolloutState {
        let previous_image = before.map(|b| match b.status {
            // A halted rollout never became the fleet's image: the one before it still is.
            RolloutStatus::Halted => b
                .previous_image
                .clone()
                .unwrap_or_else(|| b.target_image.clone()),
            _ => b.target_image.clone(),
        });
        RolloutState {
            target_image: image.to_string(),
            previous_image,
            status: RolloutStatus::InProgress,
            updated: 0,
            failed: 0,
        }
    }

    /// The image reprovisions and recreations should use: never a known-bad image.
    pub fn image_for_new_machines<'a>(&'a self, configured: &'a str) -> &'a str {
        match (&self.status, &self.previous_image) {
            (RolloutStatus::Halted, Some(previous)) => previous,
            _ => configured,
        }
    }

    /// Counts one machine's result; returns true when this result halts the rollout.
    pub fn record(&mut self, healthy: bool, failure_threshold: f64) -> bool {
        if healthy {
            self.updated += 1;
        } else {
            self.failed += 1;
        }
        let tried = f64::from(self.updated + self.failed);
        if self.status == RolloutStatus::InProgress
            && f64::from(self.failed) / tried > failure_threshold
        {
            self.status = RolloutStatus::Halted;
            return true;
        }
        false
    }

    /// Whether a healthy machine on `image` should be updated now.
    pub fn wants_update(&self, image: &str) -> bool {
        self.status == RolloutStatus::InProgress && image != self.target_image
    }
}

/// What changed at the start of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub enum RolloutStart {
    /// Same image as before: carry on with the stored state.
    Continue(RolloutState),
    /// The image variable changed (or there was no state): a new rollout begins.
    Begin(RolloutState),
}

/// Compares the configured image with the stored rollout.
pub fn start_rollout(stored: Option<&RolloutState>, configured_image: &str) -> RolloutStart {
    match stored {
        Some(state) if state.target_image == configured_image => {
            RolloutStart::Continue(state.clone())
        }
        _ => RolloutStart::Begin(RolloutState::begin(configured_image, stored)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_image_begins_a_rollout_and_the_same_image_continues_it() {
        let RolloutStart::Begin(first) = start_rollout(None, "img:v1") else {
            panic!()
        };
        assert_eq!(
            (first.previous_image.as_deref(), first.status),
            (None, RolloutStatus::InProgress)
        );
        assert!(matches!(
            start_rollout(Some(&first), "img:v1"),
            RolloutStart::Continue(_)
        ));
        let RolloutStart::Begin(second) = start_rollout(Some(&first), "img:v2") else {
            panic!()
        };
        assert_eq!(second.previous_image.as_deref(), Some("img:v1"));
        assert!(second.wants_update("img:v1") && !second.wants_update("img:v2"));
    }

    #[test]
    fn failures_over_the_threshold_halt_and_only_a_new_image_resumes() {
        let mut state = RolloutState::begin("img:v2", None);
        state.previous_image = Some("img:v1".into());
        assert!(!state.record(true, 0.25));
        assert!(!state.record(true, 0.25));
        assert!(!state.record(true, 0.25));
        assert!(
            !state.record(false, 0.25),
            "1 of 4 failed: at the threshold, not over it"
        );
        assert!(state.record(false, 0.25), "2 of 5 failed: halt");
        assert_eq!(state.status, RolloutStatus::Halted);
        assert!(
            !state.wants_update("img:v1"),
            "healthy machines are never updated into a bad image"
        );
        assert_eq!(state.image_for_new_machines("img:v2"), "img:v1");
        assert!(
            matches!(
                start_rollout(Some(&state), "img:v2"),
                RolloutStart::Continue(_)
            ),
            "no resume"
        );
        let RolloutStart::Begin(next) = start_rollout(Some(&state), "img:v3") else {
            panic!()
        };
        assert_eq!(
            next.previous_image.as_deref(),
            Some("img:v1"),
            "the bad image never counts as previous"
        );
        assert_eq!(next.image_for_new_machines("img:v3"), "img:v3");
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let state = RolloutState::begin("img:v2", Some(&RolloutState::begin("img:v1", None)));
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(json["status"], "in_progress");
        assert_eq!(serde_json::from_value::<RolloutState>(json).unwrap(), state);
    }
}
