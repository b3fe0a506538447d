//! The TLS client configuration: trust from a PEM file, or (for tests and benchmarks against a
//! self-signed server) no certificate check at all.
//!
//! There is no built-in root store on purpose: a client talks to the game's own server, whose
//! certificate (or CA) is given in [`crate::ConnectOptions::ca`] or deliberately not checked
//! ([`crate::ConnectOptions::insecure`], for a self-signed development server).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::connect::ConnectError;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Any certificate is accepted (the handshake signatures are still checked).
    Insecure,
    /// Certificates must chain to the roots read from a PEM file.
    CaFile,
    /// No roots at all: every certificate is refused. Kept so the failure carries a hint.
    Nothing,
}

/// Builds the client configuration once per run; every connection shares it (and its session
/// cache, so reconnections resume instead of doing a full handshake).
pub(crate) fn client_config(
    insecure: bool,
    ca: Option<&Path>,
) -> Result<(Arc<ClientConfig>, Trust), ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(ConnectError::TlsConfig)?;
    let (mut config, trust) = if insecure {
        let verifier = AcceptAnyCertificate::new(&provider);
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        (config, Trust::Insecure)
    } else {
        let mut roots = RootCertStore::empty();
        let trust = match ca {
            Some(path) => {
                load_roots(path, &mut roots)?;
                Trust::CaFile
            }
            None => Trust::Nothing,
        };
        let config = builder.with_root_certificates(roots).with_no_client_auth();
        (config, trust)
    };
    // The upgrade is HTTP/1.1; a server that offers h2 by ALPN must not pick it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), trust))
}

fn load_roots(path: &Path, roots: &mut RootCertStore) -> Result<(), ConnectError> {
    let ca_error = |cause| ConnectError::CaFile {
        path: path.to_path_buf(),
        cause,
    };
    let mut added = 0usize;
    for cert in CertificateDer::pem_file_iter(path).map_err(ca_error)? {
        let cert = cert.map_err(ca_error)?;
        roots
            .add(cert)
            .map_err(|cause| ConnectError::CaCertificate {
                path: path.to_path_buf(),
                cause,
            })?;
        added += 1;
    }
    if added == 0 {
        return Err(ConnectError::NoCaCertificate(PathBuf::from(path)));
    }
    Ok(())
}

/// Accepts whatever certificate the server presents, but still checks that the server holds
/// its key: the handshake signatures are verified with the ring provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_and_empty_configs_build() {
        let (_, trust) = client_config(true, None).expect("insecure config builds");
        assert_eq!(trust, Trust::Insecure, "insecure trusts anything");
        let (_, trust) = client_config(false, None).expect("empty-root config builds");
        assert_eq!(trust, Trust::Nothing, "no CA means no roots");
    }

    #[test]
    fn a_missing_ca_file_is_a_clear_error() {
        let err = client_config(false, Some(Path::new("/nonexistent/ca.pem")))
            .expect_err("a missing file cannot be a CA");
        assert!(
            matches!(err, ConnectError::CaFile { .. }),
            "reported as a CA file problem: {err}"
        );
    }
}
