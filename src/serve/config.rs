//! The `[http]` section: where /metrics, /healthz and /readyz listen, and their TLS and basic auth.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::web::WebConfig;
use crate::invalid::{invalid, Invalid};

/// `[http]` as written by the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address for /metrics, /healthz and /readyz.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Optional TLS and basic auth: a web-config file in the Prometheus exporter-toolkit format
    /// (`tls_server_config`, `basic_auth_users`). Unset: plain HTTP, no auth.
    #[serde(default)]
    pub web_config: Option<PathBuf>,
}

/// Loopback by default: exposing metrics beyond the host is an explicit choice.
fn default_listen() -> String {
    "127.0.0.1:9898".to_owned()
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            web_config: None,
        }
    }
}

/// `[http]` checked: a parsed address and the web-config file loaded.
#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
    /// TLS and basic auth of the HTTP endpoints, loaded and checked from `http.web_config`.
    pub web: Option<WebConfig>,
}

impl HttpConfig {
    pub fn validate(self) -> Result<Http, Invalid> {
        let listen: SocketAddr = self.listen.parse().map_err(|e| {
            invalid(
                "http.listen",
                format!(
                    "{:?} is not an address like 127.0.0.1:9898: {e}",
                    self.listen
                ),
            )
        })?;
        let web = match &self.web_config {
            Some(path) => {
                Some(WebConfig::load(path).map_err(|e| invalid("http.web_config", e.to_string()))?)
            }
            None => None,
        };
        Ok(Http { listen, web })
    }
}
