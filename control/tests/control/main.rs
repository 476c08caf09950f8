//! The flag store and the diff store tested like their users use them: real SQLite files in a temp dir, and a
//! real PostgreSQL database when `STRANGLER_TEST_POSTGRES_URL` is set (each test gets a
//! fresh database there). Modules by capability.

mod audit;
mod changes;
mod diffs;
mod effective;
mod fleet;
mod guard_trip;
mod schedule;
mod support;
