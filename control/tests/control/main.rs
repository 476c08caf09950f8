//! The flag store and the diff store tested like their users use them: real SQLite files in
//! a temp dir, and a real PostgreSQL database on the server `STRANGLER_TEST_POSTGRES_URL`
//! names (each test gets a fresh database there; `./test` starts a server). Modules by capability.

mod audit;
mod changes;
mod diffs;
mod effective;
mod fleet;
mod guard_trip;
mod rollups;
mod schedule;
mod support;
