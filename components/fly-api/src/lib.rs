//! Typed Fly Machines API client: apps, secrets, machines, leases, error classes, retry policy and app naming.
