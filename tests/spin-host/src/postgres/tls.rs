//! TLS for Postgres connections (sslmode=prefer/require): rustls, verifying against the webpki roots plus any
//! extra CA certificates the host was given (e.g. a local test CA).

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Clone)]
pub struct PostgresTls {
    config: Arc<rustls::ClientConfig>,
}

impl PostgresTls {
    pub fn new(extra_ca_files: &[impl AsRef<Path>]) -> Result<Self> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        for file in extra_ca_files {
            let file = file.as_ref();
            for cert in CertificateDer::pem_file_iter(file)
                .with_context(|| format!("reading CA file {}", file.display()))?
            {
                roots.add(cert.with_context(|| format!("parsing CA file {}", file.display()))?)?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(PostgresTls {
            config: Arc::new(config),
        })
    }

    pub fn connector(&self) -> MakeRustlsConnect {
        MakeRustlsConnect::new((*self.config).clone())
    }
}
