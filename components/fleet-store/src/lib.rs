//! Fleet's durable state: entitlement, user_fly_apps rows, leases, events and migrations over Postgres or SQLite.
