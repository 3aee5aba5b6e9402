//! The local certificate authority of the intercepting proxy: made once and
//! kept as PEM files in a folder, or reused from there (also one made by
//! `mkcert`), and a leaf certificate per simulated host, issued on first use
//! and cached as a ready rustls server configuration.
//!
//! Files in the CA folder:
//! - `ca.pem`: the CA certificate, the one file a connector is told to trust
//!   (`SSL_CERT_FILE` and friends point at it);
//! - `ca-key.pem`: its private key (mode 0600);
//! - `python/sitecustomize.py`: see [`PYTHON_SHIM`].
//!
//! `mkcert`'s `rootCA.pem` and `rootCA-key.pem` are taken when `ca.pem` is
//! absent, so a CA the machine already trusts can be reused.
//!
//! Nothing here reads the clock: validity is a fixed window
//! ([`VALID_FROM_YEAR`] to [`VALID_UNTIL_YEAR`]), so certificates do not
//! depend on when they were made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The CA certificate's file name.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA key's file name.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The common name of a CA omnisim makes.
pub const CA_COMMON_NAME: &str = "omnisim local interception CA";
/// First year of every certificate's validity.
pub const VALID_FROM_YEAR: i32 = 2025;
/// Year every certificate's validity ends.
pub const VALID_UNTIL_YEAR: i32 = 2045;
/// At most this many leaf configurations are cached; past it the cache
/// starts over (only `*.myshopify.com` names can grow it).
const LEAF_CACHE_MAX: usize = 1024;

/// The folder, under `python/`, with [`PYTHON_SHIM`] as `sitecustomize.py`.
pub const PYTHON_SHIM_DIR: &str = "python";

/// A `sitecustomize.py` for Python connectors, put on `PYTHONPATH` by the
/// printed environment. stripe-python verifies TLS against a CA bundle
/// shipped inside the package (`stripe.ca_bundle_path`) and reads no
/// environment variable for it, so no `SSL_CERT_FILE` reaches it; this
/// sets `stripe.ca_bundle_path` to `SSL_CERT_FILE` when (and only when) the
/// connector imports `stripe`, then runs any other `sitecustomize` on the
/// path. The connector's code is unchanged.
pub const PYTHON_SHIM: &str = r#""""omnisim interception: trust the local CA in clients that pin their own bundle.

stripe-python verifies TLS against the CA bundle inside its package and reads
no environment variable for it. When the connector imports `stripe`, this
points `stripe.ca_bundle_path` at SSL_CERT_FILE (the omnisim CA). Nothing else
is changed; another sitecustomize further on the path still runs.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

_BUNDLE = os.environ.get("SSL_CERT_FILE")


class _OmnisimStripeCa(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "stripe" or not _BUNDLE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.ca_bundle_path = _BUNDLE

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _OmnisimStripeCa())

_here = os.path.dirname(os.path.abspath(__file__))
_rest = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_next = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
if _next is not None and _next.loader is not None:
    _module = importlib.util.module_from_spec(_next)
    _next.loader.exec_module(_module)
"#;

/// Why the CA could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A file could not be read or written.
    #[error("`{path}`: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key could not be made or parsed.
    #[error("{what}: {source}")]
    Cert {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused a certificate.
    #[error("TLS configuration for `{host}`: {source}")]
    Tls {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: rustls::Error,
    },
}

/// A CA that issues leaf certificates for the simulated hosts.
pub struct LocalCa {
    dir: PathBuf,
    cert_path: PathBuf,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// One key for every leaf: hosts differ only in their names.
    leaf_key: KeyPair,
    leaves: Mutex<BTreeMap<String, Arc<ServerConfig>>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

fn cert(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> CaError {
    let what = what.into();
    move |source| CaError::Cert { what, source }
}

impl LocalCa {
    /// Loads the CA kept in `dir`, or makes one there (creating the folder).
    /// Also writes [`PYTHON_SHIM`] under `dir/python/`.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // Absolute: the printed paths must work from the connector's folder.
        let dir = &std::fs::canonicalize(dir).map_err(io(dir))?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let (mk_cert, mk_key) = (dir.join("rootCA.pem"), dir.join("rootCA-key.pem"));
        let (ca_pem, key) = if cert_path.exists() && key_path.exists() {
            read_pair(&cert_path, &key_path)?
        } else if !cert_path.exists() && mk_cert.exists() && mk_key.exists() {
            let (pem, key) = read_pair(&mk_cert, &mk_key)?;
            std::fs::write(&cert_path, &pem).map_err(io(&cert_path))?;
            write_private(&key_path, &key.serialize_pem())?;
            (pem, key)
        } else {
            let key = KeyPair::generate().map_err(cert("making the CA key"))?;
            let pem = ca_params()
                .self_signed(&key)
                .map_err(cert("signing the CA certificate"))?
                .pem();
            write_private(&key_path, &key.serialize_pem())?;
            std::fs::write(&cert_path, &pem).map_err(io(&cert_path))?;
            (pem, key)
        };
        let ca_der =
            CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| CaError::Io {
                path: cert_path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            })?;
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)
            .map_err(cert(format!("reading {}", cert_path.display())))?;
        let shim_dir = dir.join(PYTHON_SHIM_DIR);
        std::fs::create_dir_all(&shim_dir).map_err(io(&shim_dir))?;
        let shim = shim_dir.join("sitecustomize.py");
        std::fs::write(&shim, PYTHON_SHIM).map_err(io(&shim))?;
        Ok(LocalCa {
            dir: dir.to_owned(),
            cert_path,
            ca_pem,
            ca_der,
            issuer,
            leaf_key: KeyPair::generate().map_err(cert("making the leaf key"))?,
            leaves: Mutex::new(BTreeMap::new()),
        })
    }

    /// The CA folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `ca.pem`: the file a connector trusts.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The folder to put on `PYTHONPATH` ([`PYTHON_SHIM`]).
    pub fn python_dir(&self) -> PathBuf {
        self.dir.join(PYTHON_SHIM_DIR)
    }

    /// The rustls configuration that presents a certificate for `host`,
    /// issued on first use and cached.
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = leaves.get(host) {
            return Ok(Arc::clone(c));
        }
        let config = Arc::new(self.issue(host)?);
        if leaves.len() >= LEAF_CACHE_MAX {
            leaves.clear();
        }
        leaves.insert(host.to_owned(), Arc::clone(&config));
        Ok(config)
    }

    fn issue(&self, host: &str) -> Result<ServerConfig, CaError> {
        let mut params = CertificateParams::new(vec![host.to_owned()])
            .map_err(cert(format!("a certificate for `{host}`")))?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        params.distinguished_name = name;
        params.not_before = date_time_ymd(VALID_FROM_YEAR, 1, 1);
        params.not_after = date_time_ymd(VALID_UNTIL_YEAR, 1, 1);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(cert(format!("signing a certificate for `{host}`")))?;
        let chain = vec![leaf.der().clone(), self.ca_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        let tls = |source| CaError::Tls {
            host: host.to_owned(),
            source,
        };
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(tls)?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(tls)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    name.push(DnType::OrganizationName, "omnisim");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(VALID_FROM_YEAR, 1, 1);
    params.not_after = date_time_ymd(VALID_UNTIL_YEAR, 1, 1);
    params
}

fn read_pair(cert_path: &Path, key_path: &Path) -> Result<(String, KeyPair), CaError> {
    let pem = std::fs::read_to_string(cert_path).map_err(io(cert_path))?;
    let key_pem = std::fs::read_to_string(key_path).map_err(io(key_path))?;
    let key =
        KeyPair::from_pem(&key_pem).map_err(cert(format!("reading {}", key_path.display())))?;
    Ok((pem, key))
}

fn write_private(path: &Path, text: &str) -> Result<(), CaError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("omnisim-ca-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_ca_is_made_once_and_reused() {
        let dir = temp("reuse");
        let first = LocalCa::load_or_create(&dir).unwrap();
        let pem = first.cert_pem().to_owned();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(dir.join(CA_KEY_FILE).exists());
        assert!(dir.join("python/sitecustomize.py").exists());
        let again = LocalCa::load_or_create(&dir).unwrap();
        assert_eq!(again.cert_pem(), pem, "the same CA is reused");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn leaves_are_cached_per_host() {
        let dir = temp("leaves");
        let ca = LocalCa::load_or_create(&dir).unwrap();
        let a = ca.server_config("api.stripe.com").unwrap();
        let b = ca.server_config("api.stripe.com").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = ca.server_config("omnisim.myshopify.com").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
