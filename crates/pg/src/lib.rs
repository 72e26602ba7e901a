//! `avx_pg`: an avx index in PostgreSQL with pgvector. Pushes a local index into tables (incrementally,
//! idempotently, by binary `COPY` and one upsert per batch) and queries them with the same results as the local
//! index: nearest neighbours of a vector, and the vectors themselves for duplicate detection.
//!
//! * [`Target`]: a libpq-style connection string with libpq's defaults (`PGHOST`, `PGPASSWORD`, `~/.pgpass`,
//!   `sslmode`, `sslrootcert`: TLS over rustls with libpq's semantics, see [`SslMode`]); its `Display` never
//!   shows the password.
//! * [`push`]: sync one index into a table; [`PushOptions`], [`PushReport`].
//! * [`Db`]: a connected table for queries: [`Db::search`], [`Db::vectors`], [`Db::settings`].
//!
//! Tables (for table name `T`, default `avx_files`): `T` holds one row per file, `T_windows` one row per
//! window (with `--segments`), `T_avx` the model settings the table was made with. README.md ("Sharing a
//! library: PostgreSQL") documents the columns.

mod conn;
mod error;
mod pathtext;
mod push;
mod query;
mod schema;
mod tls;

pub use conn::Target;
pub use error::{PgError, Result};
pub use push::{default_source, push, PushOptions, PushProgress, PushReport, PAUSE_ENV};
pub use query::{Db, DbHit, DbQuery, DbVector, DEFAULT_EF_SEARCH};
pub use schema::{fingerprint, validate_table_name, DEFAULT_TABLE};
pub use tls::{RootCert, SslMode, TlsSettings, TlsSetupError};
