//! Domain types shared with the SQL schema. Every enum's strings match a CHECK constraint in
//! migrations/postgres and migrations/sqlite; a test keeps them in sync.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

/// A value that is not one of the allowed strings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: expected one of {expected}")]
pub struct ParseError {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Result<Self, ParseError> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseError {
                        what: $what,
                        value: value.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Subscription tier of the platform.
    Tier, "tier" { Free => "free", Pro => "pro", Elite => "elite" }
);

string_enum!(
    /// Subscription status of the platform.
    SubscriptionStatus, "subscription status" {
        Active => "active", Trialing => "trialing", PastDue => "past_due", Cancelled => "cancelled",
    }
);

string_enum!(
    /// Lifecycle of a user's Fly app row.
    AppStatus, "app status" {
        Provisioning => "provisioning", Active => "active", Error => "error",
        Deprovisioning => "deprovisioning", Deleted => "deleted",
    }
);

string_enum!(
    /// Last observed health of a user's app.
    HealthStatus, "health status" { Healthy => "healthy", Unhealthy => "unhealthy", Unknown => "unknown" }
);

string_enum!(
    /// Types of `user_fly_app_events` rows: the platform's, plus orphans, rollouts and credentials.
    EventType, "event type" {
        ProvisionRequested => "provision_requested",
        ProvisionStarted => "provision_started",
        ProvisionCompleted => "provision_completed",
        ProvisionFailed => "provision_failed",
        HealthCheckPassed => "health_check_passed",
        HealthCheckFailed => "health_check_failed",
        DeprovisionRequested => "deprovision_requested",
        DeprovisionStarted => "deprovision_started",
        DeprovisionCompleted => "deprovision_completed",
        DeprovisionFailed => "deprovision_failed",
        ErrorOccurred => "error_occurred",
        RecoveryAttempted => "recovery_attempted",
        OrphanDetected => "orphan_detected",
        OrphanDeleted => "orphan_deleted",
        RolloutStarted => "rollout_started",
        RolloutMachineUpdated => "rollout_machine_updated",
        RolloutMachineFailed => "rollout_machine_failed",
        RolloutCompleted => "rollout_completed",
        RolloutHalted => "rollout_halted",
        CredentialCreated => "credential_created",
        CredentialRotated => "credential_rotated",
        CredentialRevoked => "credential_revoked",
    }
);

impl Tier {
    pub fn is_paid(self) -> bool {
        matches!(self, Tier::Pro | Tier::Elite)
    }
}

/// A platform user id: a uuid, always rendered lowercase and hyphenated (the form both schemas store).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(uuid::Uuid);

impl UserId {
    pub fn new(id: uuid::Uuid) -> Self {
        UserId(id)
    }

    /// Accepts only the hyphenated 36-character form.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError {
            what: "user id",
            value: value.chars().take(64).collect(),
            expected: "a hyphenated uuid".to_owned(),
        };
        if value.len() != 36 {
            return Err(invalid());
        }
        uuid::Uuid::parse_str(value)
            .map(UserId)
            .map_err(|_| invalid())
    }

    pub fn uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// The 32 lowercase hex digits, for names derived from the user.
    pub fn simple(&self) -> String {
        self.0.simple().to_string()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl FromStr for UserId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

/// Formats a UTC time the way both schemas store and compare it: `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a stored time (millisecond text from SQLite, microsecond text from Postgres).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ParseError {
            what: "time",
            value: text.chars().take(64).collect(),
            expected: "an RFC 3339 UTC time".to_owned(),
        })
}

/// Truncates to whole milliseconds, the precision every backend keeps.
pub fn truncate_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_reject_unknown_values() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Ok(*e));
        }
        for s in AppStatus::ALL {
            assert_eq!(s.as_str().parse::<AppStatus>(), Ok(*s));
        }
        let err = Tier::parse("gold").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tier \"gold\": expected one of free, pro, elite"
        );
    }

    #[test]
    fn user_ids_are_hyphenated_lowercase_uuids() {
        let id = UserId::parse("AAAAAAAA-0000-4000-8000-000000000001").unwrap();
        assert_eq!(id.to_string(), "aaaaaaaa-0000-4000-8000-000000000001");
        assert!(UserId::parse("aaaaaaaa000040008000000000000001").is_err());
        assert!(UserId::parse("not-a-uuid").is_err());
        assert!(UserId::parse("").is_err());
    }

    #[test]
    fn times_format_with_millis_and_parse_both_precisions() {
        let t = parse_time("2025-03-04T05:06:07.123456Z").unwrap();
        assert_eq!(format_time(t), "2025-03-04T05:06:07.123Z");
        assert_eq!(
            parse_time("2025-03-04T05:06:07.123Z").unwrap(),
            truncate_to_millis(t)
        );
        assert!(parse_time("2025-03-04 05:06").is_err());
    }
}
