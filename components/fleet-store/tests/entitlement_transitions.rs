//! Every entitlement transition (INSERT, UPDATE of tier/status/expires_at, DELETE) in both dialects: the
//! user is marked due exactly when the entitlement may change, in the same transaction as the change.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{
    ensure_user, exec, insert_new_subscription, insert_subscription, new_user, now, pg_store,
    sqlite_store, AnyStore,
};
use fleet_store::Dialect;
use fleet_store::{format_time, UserId};

#[derive(Clone, Copy, Debug)]
enum Exp {
    Never,
    Past,
    Soon,
    Later,
}

impl Exp {
    fn at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Exp::Never => None,
            Exp::Past => Some(now - Duration::days(1)),
            Exp::Soon => Some(now + Duration::days(30)),
            Exp::Later => Some(now + Duration::days(60)),
        }
    }
}

type Sub = (&'static str, &'static str, Exp);

#[derive(Clone, Copy, Debug)]
enum Change {
    Insert(Sub),
    Update {
        from: Sub,
        to: Sub,
    },
    /// An update that touches no entitlement column.
    UpdateStripeId(Sub),
    Delete(Sub),
}

const CASES: &[(&str, Change, bool)] = &[
    (
        "insert free",
        Change::Insert(("free", "active", Exp::Never)),
        false,
    ),
    (
        "insert pro active",
        Change::Insert(("pro", "active", Exp::Never)),
        true,
    ),
    (
        "insert elite trialing",
        Change::Insert(("elite", "trialing", Exp::Never)),
        true,
    ),
    (
        "insert pro past_due",
        Change::Insert(("pro", "past_due", Exp::Never)),
        false,
    ),
    (
        "insert pro cancelled",
        Change::Insert(("pro", "cancelled", Exp::Never)),
        false,
    ),
    (
        "insert pro already expired",
        Change::Insert(("pro", "active", Exp::Past)),
        false,
    ),
    (
        "insert pro expiring later",
        Change::Insert(("pro", "active", Exp::Soon)),
        true,
    ),
    (
        "tier free -> pro",
        Change::Update {
            from: ("free", "active", Exp::Never),
            to: ("pro", "active", Exp::Never),
        },
        true,
    ),
    (
        "tier free -> elite",
        Change::Update {
            from: ("free", "active", Exp::Never),
            to: ("elite", "active", Exp::Never),
        },
        true,
    ),
    (
        "tier pro -> elite",
        Change::Update {
            from: ("pro", "active", Exp::Never),
            to: ("elite", "active", Exp::Never),
        },
        false,
    ),
    (
        "tier elite -> pro",
        Change::Update {
            from: ("elite", "active", Exp::Never),
            to: ("pro", "active", Exp::Never),
        },
        false,
    ),
    (
        "tier pro -> free",
        Change::Update {
            from: ("pro", "active", Exp::Never),
            to: ("free", "active", Exp::Never),
        },
        true,
    ),
    (
        "tier elite -> free",
        Change::Update {
            from: ("elite", "trialing", Exp::Never),
            to: ("free", "trialing", Exp::Never),
        },
        true,
    ),
    (
        "tier free -> pro while cancelled",
        Change::Update {
            from: ("free", "cancelled", Exp::Never),
            to: ("pro", "cancelled", Exp::Never),
        },
        false,
    ),
    (
        "tier free -> pro already expired",
        Change::Update {
            from: ("free", "active", Exp::Past),
            to: ("pro", "active", Exp::Past),
        },
        false,
    ),
    (
        "status active -> past_due",
        Change::Update {
            from: ("pro", "active", Exp::Never),
            to: ("pro", "past_due", Exp::Never),
        },
        true,
    ),
    (
        "status active -> cancelled",
        Change::Update {
            from: ("elite", "active", Exp::Never),
            to: ("elite", "cancelled", Exp::Never),
        },
        true,
    ),
    (
        "status active -> trialing",
        Change::Update {
            from: ("pro", "active", Exp::Never),
            to: ("pro", "trialing", Exp::Never),
        },
        false,
    ),
    (
        "status past_due -> active",
        Change::Update {
            from: ("pro", "past_due", Exp::Never),
            to: ("pro", "active", Exp::Never),
        },
        true,
    ),
    (
        "status past_due -> cancelled",
        Change::Update {
            from: ("pro", "past_due", Exp::Never),
            to: ("pro", "cancelled", Exp::Never),
        },
        false,
    ),
    (
        "status change on free",
        Change::Update {
            from: ("free", "active", Exp::Never),
            to: ("free", "cancelled", Exp::Never),
        },
        false,
    ),
    (
        "expiry none -> past",
        Change::Update {
            from: ("pro", "active", Exp::Never),
            to: ("pro", "active", Exp::Past),
        },
        true,
    ),
    (
        "expiry past -> later (renewed)",
        Change::Update {
            from: ("pro", "active", Exp::Past),
            to: ("pro", "active", Exp::Soon),
        },
        true,
    ),
    (
        "expiry moved while entitled",
        Change::Update {
            from: ("pro", "active", Exp::Soon),
            to: ("pro", "active", Exp::Later),
        },
        true,
    ),
    (
        "expiry set while entitled",
        Change::Update {
            from: ("elite", "active", Exp::Never),
            to: ("elite", "active", Exp::Soon),
        },
        true,
    ),
    (
        "expiry past -> other past",
        Change::Update {
            from: ("pro", "active", Exp::Past),
            to: ("pro", "cancelled", Exp::Past),
        },
        false,
    ),
    (
        "expiry moved on free",
        Change::Update {
            from: ("free", "active", Exp::Soon),
            to: ("free", "active", Exp::Later),
        },
        false,
    ),
    (
        "same values again",
        Change::Update {
            from: ("pro", "active", Exp::Soon),
            to: ("pro", "active", Exp::Soon),
        },
        false,
    ),
    (
        "unrelated column on pro",
        Change::UpdateStripeId(("pro", "active", Exp::Never)),
        false,
    ),
    (
        "delete pro",
        Change::Delete(("pro", "active", Exp::Never)),
        true,
    ),
    (
        "delete elite expiring later",
        Change::Delete(("elite", "trialing", Exp::Soon)),
        true,
    ),
    (
        "delete free",
        Change::Delete(("free", "active", Exp::Never)),
        false,
    ),
    (
        "delete expired pro",
        Change::Delete(("pro", "active", Exp::Past)),
        false,
    ),
];

/// `(due_generation, next_attempt_at is set)` of the user's row, if any.
fn due_state(store: &mut AnyStore, user: UserId) -> Option<(i64, bool)> {
    store
        .app(user)
        .unwrap()
        .map(|app| (app.due_generation, app.next_attempt_at.is_some()))
}

/// The platform's `user_subscriptions.status` CHECK has no 'trialing' (Fleet's local SQLite schema has).
fn uses_trialing(change: Change) -> bool {
    let subs = match change {
        Change::Insert(s) | Change::UpdateStripeId(s) | Change::Delete(s) => vec![s],
        Change::Update { from, to } => vec![from, to],
    };
    subs.iter().any(|(_, status, _)| *status == "trialing")
}

fn run_case(store: &mut AnyStore, name: &str, change: Change, expect_due: bool) {
    if store.dialect() == Dialect::Postgres && uses_trialing(change) {
        return;
    }
    let user = new_user();
    let now = now();
    let initial = match change {
        Change::Insert(_) => None,
        Change::Update { from, .. } | Change::UpdateStripeId(from) | Change::Delete(from) => {
            Some(from)
        }
    };
    ensure_user(store, user);
    if let Some((tier, status, exp)) = initial {
        insert_new_subscription(store, user, tier, status, exp.at(now));
    } else {
        exec(
            store,
            "DELETE FROM user_subscriptions WHERE user_id = {uuid:1}",
            &[user.to_string().into()],
        );
    }
    // Forget any mark the setup made, so only the change under test can set one.
    exec(
        store,
        "UPDATE user_fly_apps SET next_attempt_at = NULL WHERE user_id = {uuid:1}",
        &[user.to_string().into()],
    );
    let before = due_state(store, user);

    match change {
        Change::Insert((tier, status, exp)) => {
            insert_new_subscription(store, user, tier, status, exp.at(now))
        }
        Change::Update {
            to: (tier, status, exp),
            ..
        } => {
            exec(
                store,
                "UPDATE user_subscriptions SET tier = {text:2}, status = {text:3}, expires_at = {ts:4} WHERE user_id = {uuid:1}",
                &[user.to_string().into(), tier.into(), status.into(), exp.at(now).map(format_time).into()],
            );
        }
        Change::UpdateStripeId(_) => {
            exec(
                store,
                "UPDATE user_subscriptions SET stripe_customer_id = 'cus_123' WHERE user_id = {uuid:1}",
                &[user.to_string().into()],
            );
        }
        Change::Delete(_) => {
            exec(
                store,
                "DELETE FROM user_subscriptions WHERE user_id = {uuid:1}",
                &[user.to_string().into()],
            );
        }
    }

    let after = due_state(store, user);
    let marked = match (before, after) {
        (_, None) => false,
        (None, Some((_, due))) => due,
        (Some((g0, _)), Some((g1, due))) => g1 > g0 && due,
    };
    assert_eq!(
        marked,
        expect_due,
        "{:?}: {name}: before {before:?}, after {after:?}",
        store.dialect()
    );
    if marked {
        let app = store.app(user).unwrap().unwrap();
        assert!(app.next_attempt_at.unwrap() <= common::now() + Duration::seconds(5));
        assert_eq!(
            app.attempts, 0,
            "{name}: a new desired state resets the backoff"
        );
    }
    // The store's entitlement read agrees with the rule the trigger used.
    let entitled_now = store.entitlement(user).unwrap().entitled;
    if let Some(app) = store.app(user).unwrap() {
        assert_eq!(app.user_id, user);
    } else {
        assert!(!entitled_now, "{name}: an entitled user always has a row");
    }
}

#[test]
fn every_transition_marks_due_exactly_when_entitlement_may_change_postgres() {
    let (mut store, _) = pg_store();
    for (name, change, expect_due) in CASES {
        run_case(&mut store, name, *change, *expect_due);
    }
}

#[test]
fn every_transition_marks_due_exactly_when_entitlement_may_change_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = sqlite_store(&dir);
    for (name, change, expect_due) in CASES {
        run_case(&mut store, name, *change, *expect_due);
    }
}

/// A subscription moved to another user: both are looked at again.
#[test]
fn moving_a_subscription_marks_both_users() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, _) = pg_store();
    let (lite, _) = sqlite_store(&dir);
    for mut store in [pg, lite] {
        let (from, to) = (new_user(), new_user());
        insert_subscription(&mut store, from, "pro", "active", None);
        // `to` is a known user without a subscription row (user_id is unique).
        ensure_user(&mut store, to);
        exec(
            &mut store,
            "DELETE FROM user_subscriptions WHERE user_id = {uuid:1}",
            &[to.to_string().into()],
        );
        let g0 = store.app(from).unwrap().unwrap().due_generation;
        exec(
            &mut store,
            "UPDATE user_subscriptions SET user_id = {uuid:2} WHERE user_id = {uuid:1}",
            &[from.to_string().into(), to.to_string().into()],
        );
        assert!(
            store.app(from).unwrap().unwrap().due_generation > g0,
            "{:?}",
            store.dialect()
        );
        assert!(
            store.app(to).unwrap().unwrap().next_attempt_at.is_some(),
            "{:?}",
            store.dialect()
        );
        assert!(store.entitlement(to).unwrap().entitled);
        assert!(!store.entitlement(from).unwrap().entitled);
    }
}

/// The mark is part of the subscription's transaction: a rolled-back change marks nothing.
#[test]
fn a_rolled_back_change_marks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, _) = pg_store();
    let (lite, _) = sqlite_store(&dir);
    for mut store in [pg, lite] {
        let user = new_user();
        exec(&mut store, "BEGIN", &[]);
        insert_subscription(&mut store, user, "elite", "active", None);
        assert!(
            store.app(user).unwrap().is_some(),
            "marked inside the transaction"
        );
        exec(&mut store, "ROLLBACK", &[]);
        assert!(store.app(user).unwrap().is_none(), "{:?}", store.dialect());
    }
}
