//! TLS for database connections, with libpq's `sslmode` semantics over rustls (no OpenSSL):
//!
//! | `sslmode`          | encrypted               | server certificate checked                     |
//! |--------------------|-------------------------|------------------------------------------------|
//! | `disable`          | never                   | -                                              |
//! | `prefer` (default) | if the server offers it | no                                             |
//! | `require`          | always                  | no; as `verify-ca` when `sslrootcert` is given |
//! | `verify-ca`        | always                  | chain to a trusted root                        |
//! | `verify-full`      | always                  | chain, and the host name (or IP) of the URL    |
//!
//! Trusted roots are `sslrootcert=FILE` (PEM), else `~/.postgresql/root.crt` when it exists (as libpq), else
//! the Mozilla root store built into avx (`webpki-roots`, also chosen by `sslrootcert=system`). rust-postgres's
//! own parser knows only disable/prefer/require and no `sslrootcert`, so [`split_tls_params`] takes them out of
//! the connection string first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server supports it, unverified; plain otherwise (libpq's default).
    Prefer,
    /// TLS or nothing; the certificate is not checked unless a root certificate is given.
    Require,
    /// TLS, the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS, trusted chain, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq `sslmode` value (`allow` is treated as `prefer`: both try TLS unverified).
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// What rust-postgres is told: whether to ask for TLS and whether to insist on it.
    pub(crate) fn to_postgres(self) -> postgres::config::SslMode {
        match self {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        }
    }
}

/// The TLS settings of a connection: mode and where trusted roots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// The `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file, or `None` for the default (`~/.postgresql/root.crt`, else the built-in roots).
    pub root_cert: Option<RootCert>,
}

/// Where trusted root certificates come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// `sslrootcert=system`: the Mozilla root store built into avx.
    System,
}

/// The connection string without `sslmode` and `sslrootcert`, and their values (URL query or `key=value` form).
pub(crate) fn split_tls_params(url: &str) -> (String, Option<String>, Option<String>) {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            mode = Some(value);
            true
        }
        "sslrootcert" => {
            root = Some(value);
            true
        }
        _ => false,
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                        !take(k, v.into_owned())
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        url.split_whitespace()
            .filter(|part| {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                let v = v.trim_matches('\'');
                !take(k.trim(), v.to_string())
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, root)
}

/// Why a TLS configuration cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The root certificate file cannot be read or holds no certificate.
    #[error("cannot use sslrootcert {path}: {reason} (give a PEM file of CA certificates)")]
    RootCert { path: PathBuf, reason: String },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsSettings {
    /// The rustls client configuration for these settings (`home`: where `~/.postgresql/root.crt` is looked for).
    pub(crate) fn client_config(&self, home: Option<&Path>) -> Result<ClientConfig, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let default_root = home
            .map(|h| h.join(".postgresql/root.crt"))
            .filter(|p| p.is_file());
        let root = match &self.root_cert {
            Some(r) => Some(r.clone()),
            None => default_root.map(RootCert::File),
        };
        let check = match self.mode {
            SslMode::Disable | SslMode::Prefer => Check::Nothing,
            SslMode::Require if matches!(self.root_cert, Some(RootCert::File(_))) => Check::Chain,
            SslMode::Require => Check::Nothing,
            SslMode::VerifyCa => Check::Chain,
            SslMode::VerifyFull => Check::ChainAndName,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match check {
            Check::Nothing => Arc::new(Lenient {
                provider,
                chain: None,
            }),
            Check::Chain | Check::ChainAndName => {
                let roots = load_roots(root.as_ref())?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| {
                            TlsSetupError::Rustls(rustls::Error::General(e.to_string()))
                        })?;
                if check == Check::Chain {
                    Arc::new(Lenient {
                        provider,
                        chain: Some(webpki),
                    })
                } else {
                    webpki
                }
            }
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

fn load_roots(root: Option<&RootCert>) -> Result<RootCertStore, TlsSetupError> {
    match root {
        None | Some(RootCert::System) => Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }),
        Some(RootCert::File(path)) => {
            let bad = |reason: String| TlsSetupError::RootCert {
                path: path.clone(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no certificate in it".into()));
            }
            let mut store = RootCertStore::empty();
            for c in certs {
                store.add(c).map_err(|e| bad(e.to_string()))?;
            }
            Ok(store)
        }
    }
}

/// The checks below libpq's `verify-full`: `prefer` and `require` (no `chain`) accept any certificate
/// (encryption without authentication of the server, as libpq), `verify-ca` (`chain` set) checks the chain to a
/// trusted root but not the name. The handshake's signatures are always checked, so the session keys belong to
/// whoever holds the certificate's key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A one-line reason for a failed TLS connection, from the rustls error in `err`'s source chain: what failed
/// and what to do. `None` when the failure is not about TLS.
pub(crate) fn explain(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        // tokio-rustls reports rustls errors inside an io::Error, whose `source()` skips the wrapped error.
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if let Some(r) = inner.or_else(|| e.downcast_ref::<rustls::Error>()) {
            return Some(match r {
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                ) => "host name mismatch: the server's certificate does not name the host in the URL (connect \
                      with the name the certificate was made for, or use sslmode=verify-ca)"
                    .to_string(),
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    "certificate not trusted: the server's certificate is not signed by a root in sslrootcert \
                     (give the server's CA with sslrootcert=FILE)"
                        .to_string()
                }
                rustls::Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. },
                ) => "the server's certificate has expired".to_string(),
                other => format!("TLS handshake failed: {other}"),
            });
        }
        cur = e.source();
    }
    let mut text = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        text.push_str(&e.to_string());
        text.push('\n');
        cur = e.source();
    }
    if text.contains("server does not support TLS") {
        return Some(
            "the server does not support TLS (ask for TLS on the server, or connect with sslmode=prefer or \
             sslmode=disable)"
                .to_string(),
        );
    }
    if text.contains("no encryption") {
        return Some(
            "the server accepts only encrypted connections (connect with sslmode=require or stronger)"
                .to_string(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_both_forms() {
        let (rest, mode, root) = split_tls_params(
            "postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u@h/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/tmp/ca.pem"));
        let (rest, mode, root) = split_tls_params("postgres://u@h/db?sslmode=require");
        assert_eq!(
            (rest.as_str(), mode.as_deref(), root),
            ("postgres://u@h/db", Some("require"), None)
        );
        let (rest, mode, root) =
            split_tls_params("host=h user=u sslmode=verify-ca sslrootcert=/x.pem");
        assert_eq!(rest, "host=h user=u");
        assert_eq!(
            (mode.as_deref(), root.as_deref()),
            (Some("verify-ca"), Some("/x.pem"))
        );
    }

    #[test]
    fn sslmode_values_are_libpqs() {
        for (s, m) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(SslMode::parse(s), Some(m));
        }
        assert_eq!(SslMode::parse("verify_full"), None);
    }

    #[test]
    fn a_missing_root_certificate_file_is_named() {
        let s = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(RootCert::File("/nonexistent/ca.pem".into())),
        };
        let e = s.client_config(None).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
