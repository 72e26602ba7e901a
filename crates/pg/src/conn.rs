//! [`Target`]: where the database is, following libpq's conventions so that a connection string that works
//! with `psql` works with avx: `postgres://USER@HOST:PORT/DB?sslmode=...` or `host=... user=...`, with the
//! missing parts from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`, and the password from the URL,
//! `PGPASSWORD`, or the password file (`PGPASSFILE`, default `~/.pgpass`, ignored unless private, as libpq
//! does). The password is never part of what a `Target` displays, nor of any error.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::error::{PgError, Result};

/// A database to connect to. `Display` shows `postgres://USER@HOST:PORT/DB`, never the password.
#[derive(Clone)]
pub struct Target {
    config: Config,
    shown: String,
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
        let mut config = Config::from_str(url).map_err(|e| {
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
        if !url.contains("sslmode") {
            if let Some(mode) = env("PGSSLMODE") {
                let mode = match mode.as_str() {
                    "disable" => postgres::config::SslMode::Disable,
                    "require" | "verify-ca" | "verify-full" => postgres::config::SslMode::Require,
                    _ => postgres::config::SslMode::Prefer,
                };
                config.ssl_mode(mode);
            }
        }
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
        })
    }

    /// Connects (without TLS: `sslmode=require` is refused by the connection with an error).
    pub fn connect(&self) -> Result<Client> {
        self.config
            .connect(NoTls)
            .map_err(|source| PgError::Connect {
                target: self.shown.clone(),
                source,
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
