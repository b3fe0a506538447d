//! The wss certificate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The certificate could not be generated.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate and key.
    #[error("invalid certificate or key: {0}")]
    Rustls(rustls::Error),
    /// The generated certificate could not be written out.
    #[error("cannot write the generated certificate to {path}: {cause}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
}

// The cause is part of the message, not a `source()` too: it is printed once.
impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        Self::Rustls(e)
    }
}

/// Where the served certificate came from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// The operator's PEM files.
    Files,
    /// Generated at start-up for localhost; the PEM is also written to `path` so that clients
    /// can trust it.
    SelfSigned {
        /// The certificate in PEM.
        pem: String,
        /// Where the PEM was written.
        path: PathBuf,
    },
}

/// The certificate the wss listener serves, swappable while the server runs: a renewed
/// certificate is picked up (on SIGHUP, or when the files change) without dropping anyone,
/// because established TLS sessions keep the keys they negotiated.
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    /// The PEM files and their modification times at the last load (`None`: generated).
    files: Option<Mutex<Files>>,
}

struct Files {
    cert: PathBuf,
    key: PathBuf,
    stamps: (Option<SystemTime>, Option<SystemTime>),
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore").finish_non_exhaustive()
    }
}

fn stamps(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (mtime(cert), mtime(key))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    Ok(Arc::new(CertifiedKey::from_der(chain, key, &provider())?))
}

fn load_files(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Pem {
            what: "certificate",
            path: cert.to_owned(),
            reason: e.to_string(),
        })?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        what: "private key",
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    certified(chain, key_der)
}

impl CertStore {
    /// Loads the certificate again if `force` or if either file changed since the last load.
    /// Returns whether a new certificate is now served; on error the old one stays.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let Some(files) = &self.files else {
            return Ok(false);
        };
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamps(&files.cert, &files.key);
        if !force && now == files.stamps {
            return Ok(false);
        }
        // Remember the new stamps even if loading fails: a half-written pair is retried when
        // the files change again, not every few seconds.
        files.stamps = now;
        let fresh = load_files(&files.cert, &files.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(true)
    }

    /// True when the certificate comes from files that can be reloaded.
    #[must_use]
    pub fn reloadable(&self) -> bool {
        self.files.is_some()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

/// A rustls server configuration for the given PEM files, or a generated self-signed
/// certificate for `localhost`, `127.0.0.1` and `::1` when both are `None`. TLS 1.2 and 1.3
/// only (all rustls speaks), safe default cipher suites, HTTP/1.1 by ALPN.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<(Arc<rustls::ServerConfig>, Arc<CertStore>, CertSource), TlsError> {
    let (store, source) = match (cert, key) {
        (Some(cert), Some(key)) => {
            let current = load_files(cert, key)?;
            let files = Files {
                cert: cert.to_owned(),
                key: key.to_owned(),
                stamps: stamps(cert, key),
            };
            let store = CertStore {
                current: RwLock::new(current),
                files: Some(Mutex::new(files)),
            };
            (store, CertSource::Files)
        }
        _ => {
            let (chain, key, source) = generate()?;
            let store = CertStore {
                current: RwLock::new(certified(chain, key)?),
                files: None,
            };
            (store, source)
        }
    };
    let store = Arc::new(store);
    let resolver: Arc<dyn ResolvesServerCert> = store.clone();
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), store, source))
}

/// A self-signed certificate and its private key, both PEM, for `names` (tests and tools).
pub fn self_signed_pem(names: &[&str]) -> Result<(String, String), TlsError> {
    let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

type Generated = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    CertSource,
);

fn generate() -> Result<Generated, TlsError> {
    let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let pem = certified.cert.pem();
    let path = std::env::temp_dir().join(format!("tickstream-dev-cert-{}.pem", std::process::id()));
    std::fs::write(&path, &pem).map_err(|cause| TlsError::Write {
        path: path.clone(),
        cause,
    })?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok((
        vec![certified.cert.der().clone()],
        key,
        CertSource::SelfSigned { pem, path },
    ))
}
