//! [`Target`]: where the database is, following libpq's conventions so that a connection string that works
//! with `psql` works with avx: `postgres://USER@HOST:PORT/DB?sslmode=...` or `host=... user=...`, with the
//! missing parts from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`, and the password from the URL,
//! `PGPASSWORD`, or the password file (`PGPASSFILE`, default `~/.pgpass`, ignored unless private, as libpq
//! does). The password is never part of what a `Target` displays, nor of any error. TLS follows `sslmode` and
//! `sslrootcert` (or `PGSSLMODE`, `PGSSLROOTCERT`) as libpq does: see the `tls` module.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use postgres::config::Host;
use postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{PgError, Result};
use crate::tls::{self, RootCert, SslMode, TlsSettings};

/// A database to connect to. `Display` shows `postgres://USER@HOST:PORT/DB`, never the password.
#[derive(Clone)]
pub struct Target {
    config: Config,
    shown: String,
    tls: TlsSettings,
    home: Option<PathBuf>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Target").field(&self.shown).finish()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Where libpq's variables come from: the process environment in use, a map in tests.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Target {
    /// Parses a connection string and fills in libpq's defaults from the environment.
    pub fn parse(url: &str) -> Result<Target> {
        Target::parse_with(url, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    fn parse_with(url: &str, env: Env<'_>) -> Result<Target> {
        let (rest, mode, root) = tls::split_tls_params(url);
        let mode_text = mode.or_else(|| env("PGSSLMODE"));
        let mode = match &mode_text {
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(m).ok_or_else(|| PgError::BadUrl {
                target: redact_url(url),
                reason: format!(
                    "unknown sslmode '{m}' (use disable, prefer, require, verify-ca or verify-full)"
                ),
            })?,
        };
        let root_cert = root
            .or_else(|| env("PGSSLROOTCERT"))
            .map(|r| match r.as_str() {
                "system" => RootCert::System,
                _ => RootCert::File(PathBuf::from(r)),
            });
        let tls = TlsSettings { mode, root_cert };
        let mut config = Config::from_str(&rest).map_err(|e| {
            let mut reason = e.to_string();
            if let Some(pw) = password_in_url(url) {
                reason = reason.replace(&pw, "***");
            }
            PgError::BadUrl {
                target: redact_url(url),
                reason,
            }
        })?;
        if config.get_hosts().is_empty() {
            config.host(&env("PGHOST").unwrap_or_else(|| "localhost".to_string()));
        }
        if config.get_ports().is_empty() {
            let port = env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432);
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".to_string());
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let db =
                env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("").to_string());
            config.dbname(&db);
        }
        config.ssl_mode(tls.mode.to_postgres());
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => String::new(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("").to_string();
        let db = config.get_dbname().unwrap_or("").to_string();
        if config.get_password().is_none() {
            let password = env("PGPASSWORD").or_else(|| {
                let file = env("PGPASSFILE")
                    .map(PathBuf::from)
                    .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
                pgpass_lookup(&file, &host, port, &db, &user)
            });
            if let Some(p) = password {
                config.password(p);
            }
        }
        Ok(Target {
            shown: format!("postgres://{user}@{host}:{port}/{db}"),
            config,
            tls,
            home: env("HOME").map(PathBuf::from),
        })
    }

    /// The TLS settings (`sslmode`, `sslrootcert`) this target connects with.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// Connects, with TLS as `sslmode` asks. A failed TLS handshake says what failed: certificate not trusted,
    /// host name mismatch, or a server that does not support TLS.
    pub fn connect(&self) -> Result<Client> {
        let config = self
            .tls
            .client_config(self.home.as_deref())
            .map_err(|source| PgError::TlsSetup {
                target: self.shown.clone(),
                source,
            })?;
        self.config
            .connect(MakeRustlsConnect::new(config))
            .map_err(|source| match tls::explain(&source) {
                Some(reason) => PgError::Tls {
                    target: self.shown.clone(),
                    reason,
                    source,
                },
                None => PgError::Connect {
                    target: self.shown.clone(),
                    source,
                },
            })
    }
}

/// The password of a `postgres://user:password@host` URL, if any.
fn password_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split(['/', '?']).next()?.rsplit_once('@')?.0;
    Some(userinfo.split_once(':')?.1.to_string()).filter(|p| !p.is_empty())
}

/// A URL with its password replaced by `***` (and a `password=` keyword's value too).
fn redact_url(url: &str) -> String {
    let mut s = url.to_string();
    if let Some(pw) = password_in_url(url) {
        s = s.replace(&format!(":{pw}@"), ":***@");
    }
    s.split(' ')
        .map(|part| {
            if part.starts_with("password=") {
                "password=***".to_string()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The password of the first line of a libpq password file matching the connection (`*` matches anything,
/// `\:` and `\\` are escapes). The file is ignored when others can read it, as libpq does.
fn pgpass_lookup(file: &Path, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(file).ok()?.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() != 5 {
            continue;
        }
        let want = [host, port.as_str(), db, user];
        let host_ok = |f: &str| f == "*" || f == host || (f == "localhost" && host == "127.0.0.1");
        if host_ok(&fields[0])
            && fields[1..4]
                .iter()
                .zip(&want[1..])
                .all(|(f, w)| f == "*" || f == w)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(url: &str, vars: &[(&str, &str)]) -> Result<Target> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Target::parse_with(url, &|k| map.get(k).cloned())
    }

    #[test]
    fn display_never_shows_the_password() {
        let t = parse("postgres://me:s3cret@db.example:6543/sounds", &[]).unwrap();
        assert_eq!(t.to_string(), "postgres://me@db.example:6543/sounds");
        assert!(!format!("{t:?}").contains("s3cret"));
        let e = parse("postgres://me:s3cret@db.example:notaport/sounds", &[]).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("***"), "{e}");
    }

    #[test]
    fn libpq_defaults_come_from_the_environment() {
        let t = parse(
            "postgres://",
            &[
                ("PGHOST", "h"),
                ("PGPORT", "7000"),
                ("PGUSER", "u"),
                ("PGPASSWORD", "pw"),
            ],
        )
        .unwrap();
        assert_eq!(t.to_string(), "postgres://u@h:7000/u");
        assert_eq!(t.config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn sslmode_and_sslrootcert_come_from_the_url_or_the_environment() {
        let t = parse("postgres://u@h/db", &[]).unwrap();
        assert_eq!(t.tls().mode, SslMode::Prefer);
        let env = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", "/ca.pem")];
        let t = parse("postgres://u@h/db", &env).unwrap();
        assert_eq!(t.tls().mode, SslMode::VerifyFull);
        assert_eq!(t.tls().root_cert, Some(RootCert::File("/ca.pem".into())));
        let t = parse("postgres://u@h/db?sslmode=disable&sslrootcert=system", &env).unwrap();
        assert_eq!(t.tls().mode, SslMode::Disable);
        assert_eq!(t.tls().root_cert, Some(RootCert::System));
        assert_eq!(t.config.get_ssl_mode(), postgres::config::SslMode::Disable);
        let e = parse("postgres://u:s3cret@h/db?sslmode=verify", &[]).unwrap_err();
        assert!(e.to_string().contains("unknown sslmode 'verify'"), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn pgpass_matches_with_wildcards_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "# comment\nother:*:*:*:no\nh:7000:*:u:a\\:b\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let f = file.to_string_lossy().into_owned();
        let t = parse("postgres://u@h:7000/db", &[("PGPASSFILE", &f)]).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"a:b"[..]));
        let t = parse("postgres://v@h:7000/db", &[("PGPASSFILE", &f)]).unwrap();
        assert_eq!(t.config.get_password(), None);
    }
}
