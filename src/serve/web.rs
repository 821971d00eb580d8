//! Securing the HTTP endpoints with a web-config file in the format of the Prometheus
//! exporter-toolkit, so operators reuse what they know from node_exporter & co:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt   # PEM, the leaf first; relative to this file
//!   key_file: server.key    # PEM, PKCS#8, PKCS#1 or SEC1
//! basic_auth_users:
//!   prometheus: $2y$10$...  # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
//! ```
//!
//! Only these keys are supported; any other key (client certificates, cipher suites, ...) is an
//! error naming it, never silently ignored. Basic auth protects every endpoint.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use headers::authorization::Basic;
use headers::{Authorization, HeaderMapExt};
use serde::Deserialize;

/// Why a web-config file is unusable; the message names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read web config {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("web config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("web config {path}: {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default)]
    tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    basic_auth_users: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsServerConfig {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

/// A loaded, checked web config: certificates parsed, hashes well-formed.
#[derive(Clone)]
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub users: Option<Arc<Users>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.users.as_ref().map(|u| u.hashes.len()),
            )
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks `path`. Relative file names inside are relative to its directory.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: WebConfigFile =
            serde_norway::from_str(&text).map_err(|e| WebConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let invalid = |field: &str, reason: String| WebConfigError::Invalid {
            path: path.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = match file.tls_server_config {
            None => None,
            Some(t) => {
                let cert = t
                    .cert_file
                    .ok_or_else(|| invalid("tls_server_config.cert_file", "is required".into()))?;
                let key = t
                    .key_file
                    .ok_or_else(|| invalid("tls_server_config.key_file", "is required".into()))?;
                Some(Arc::new(
                    tls_config(&dir.join(cert), &dir.join(key))
                        .map_err(|(field, reason)| invalid(field, reason))?,
                ))
            }
        };
        let users = match file.basic_auth_users {
            None => None,
            Some(users) if users.is_empty() => None,
            Some(users) => {
                let mut cost = None;
                for (user, hash) in &users {
                    let field = format!("basic_auth_users.{user}");
                    if user.is_empty() || user.contains(':') {
                        return Err(invalid(
                            &field,
                            "a user name must be non-empty and without ':'".into(),
                        ));
                    }
                    let parts: bcrypt::HashParts = hash.parse().map_err(|e| {
                        invalid(&field, format!("is not a bcrypt hash ($2y$10$...): {e}"))
                    })?;
                    cost = cost.max(Some(parts.get_cost()));
                }
                // Unknown users are checked against this hash, at the same cost as the real
                // ones, so that the answer time does not tell which users exist.
                let dummy = bcrypt::hash("manyi: no such user", cost.unwrap_or(10))
                    .map_err(|e| invalid("basic_auth_users", e.to_string()))?;
                Some(Arc::new(Users {
                    hashes: users,
                    dummy,
                }))
            }
        };
        Ok(WebConfig { tls, users })
    }
}

fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, (&'static str, String)> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    const CERT: &str = "tls_server_config.cert_file";
    const KEY: &str = "tls_server_config.key_file";
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect())
        .map_err(|e| (CERT, format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err((CERT, format!("{}: no PEM certificate", cert.display())));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| (KEY, format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (CERT, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| (KEY, format!("does not fit cert_file: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Basic-auth users and their bcrypt hashes.
pub struct Users {
    hashes: HashMap<String, String>,
    dummy: String,
}

impl Users {
    /// Returns true if and only if `user` exists and `password` matches its hash. Slow (bcrypt):
    /// call off the reactor.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.hashes.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(password, &self.dummy);
                false
            }
        }
    }
}

/// Middleware: 401 with a `WWW-Authenticate` challenge unless the credentials match.
/// A missing, malformed or non-Basic `Authorization` header counts as wrong credentials.
pub(super) async fn require_basic_auth(
    State(users): State<Arc<Users>>,
    req: Request,
    next: Next,
) -> Response {
    let ok = match req.headers().typed_get::<Authorization<Basic>>() {
        Some(Authorization(basic)) => {
            let (user, password) = (basic.username().to_owned(), basic.password().to_owned());
            tokio::task::spawn_blocking(move || users.verify(&user, &password))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"manyi\"")],
            "Unauthorized\n",
        )
            .into_response()
    }
}
