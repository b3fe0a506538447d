//! The wss certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

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
    Rustls(#[from] rustls::Error),
    /// The generated certificate could not be written out.
    #[error("cannot write the generated certificate to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
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

/// A rustls server configuration for the given PEM files, or a generated self-signed
/// certificate for `localhost`, `127.0.0.1` and `::1` when both are `None`.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<(Arc<rustls::ServerConfig>, CertSource), TlsError> {
    let (chain, key, source) = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TlsError::Pem {
                    what: "certificate",
                    path: cert.to_owned(),
                    reason: e.to_string(),
                })?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
                what: "private key",
                path: key.to_owned(),
                reason: e.to_string(),
            })?;
            (chain, key, CertSource::Files)
        }
        _ => generate()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), source))
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
    std::fs::write(&path, &pem).map_err(|source| TlsError::Write {
        path: path.clone(),
        source,
    })?;
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    Ok((
        vec![certified.cert.der().clone()],
        key,
        CertSource::SelfSigned { pem, path },
    ))
}
