//! The error type of `avx_pg`. Every variant names the database target (with the password removed) or the
//! table involved, and says what to do.

/// Result alias used throughout the crate.
pub type Result<T, E = PgError> = std::result::Result<T, E>;

/// Everything that can go wrong while pushing to or querying a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The connection string cannot be parsed.
    #[error("bad database URL {target}: {reason} (expected postgres://USER@HOST:PORT/DB)")]
    BadUrl { target: String, reason: String },

    /// The server cannot be reached or refused the login.
    #[error("cannot connect to {target}: {source} (check the host, port, user and password: PGPASSWORD or ~/.pgpass)")]
    Connect {
        target: String,
        #[source]
        source: postgres::Error,
    },

    /// The TLS connection failed or was refused: certificate not trusted, host name mismatch, or TLS not
    /// supported (or demanded) by the server.
    #[error("cannot connect to {target}: {reason}")]
    Tls {
        target: String,
        reason: String,
        #[source]
        source: postgres::Error,
    },

    /// The TLS settings cannot be used (an unreadable `sslrootcert`).
    #[error("cannot connect to {target}: {source}")]
    TlsSetup {
        target: String,
        #[source]
        source: crate::tls::TlsSetupError,
    },

    /// A statement failed.
    #[error("{target}: {what}: {source}")]
    Query {
        target: String,
        what: String,
        #[source]
        source: postgres::Error,
    },

    /// The `vector` extension is not installed and cannot be created by this user.
    #[error(
        "{target}: the pgvector extension is not available: {source} (ask an administrator to run \
         CREATE EXTENSION vector in this database)"
    )]
    NoVector {
        target: String,
        #[source]
        source: postgres::Error,
    },

    /// The table name is not a plain SQL identifier.
    #[error("bad table name '{name}': use lower-case letters, digits and _ (at most 40, not starting with a digit)")]
    BadTable { name: String },

    /// The table holds vectors of another model, front end or dimension.
    #[error(
        "table {table} in {target} holds vectors of {found}, but this index has {expected}: push into \
         another --table, or use the table's model"
    )]
    ModelMismatch {
        target: String,
        table: String,
        found: String,
        expected: String,
    },

    /// The table does not exist (queries need a pushed table).
    #[error("{target} has no avx table {table}: run `avx push` first, or pass another --table")]
    NoTable { target: String, table: String },

    /// The local index cannot be read.
    #[error(transparent)]
    Index(#[from] avx_index::IndexError),
}
