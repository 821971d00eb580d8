//! `/metrics` (Prometheus text format), `/healthz` (the process answers) and `/readyz` (the
//! consumer is connected and has partitions), served by axum; optionally behind TLS and basic
//! auth from a web-config file ([`super::web`]).

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use prometheus::{Encoder, TextEncoder};
use tokio::net::TcpListener;

use super::web::{require_basic_auth, WebConfig};
use super::Metrics;

/// A TLS handshake that takes longer than this is dropped (it must not hold a slot forever).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` completes, with TLS and basic auth when `web` asks for them.
pub async fn serve_with(
    listener: TcpListener,
    metrics: Metrics,
    web: Option<WebConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready_handler))
        .with_state(metrics);
    let (tls, users) = match web {
        Some(w) => (w.tls, w.users),
        None => (None, None),
    };
    if let Some(users) = users {
        app = app.layer(axum::middleware::from_fn_with_state(
            users,
            require_basic_auth,
        ));
    }
    match tls {
        // axum-server runs each handshake in the connection's own task, under a timeout, so a
        // slow client never holds up the others; on shutdown it stops accepting, drops pending
        // handshakes and waits for open requests, as `axum::serve` does.
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stop = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stop.graceful_shutdown(None);
            });
            axum_server::from_tcp_rustls(listener.into_std()?, RustlsConfig::from_config(config))?
                .map(|tls| tls.handshake_timeout(HANDSHAKE_TIMEOUT))
                .handle(handle)
                .http1_only()
                .accept_error_handler(|peer, e| match peer {
                    // Out of file descriptors and the like; axum-server backs off 50 ms.
                    None => tracing::warn!(error = %e, "accept failed"),
                    Some(peer) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                })
                .serve(app.into_make_service())
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

async fn metrics_handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    // Gathering merges the windows under short per-partition locks: keep it off the reactor.
    let body = tokio::task::spawn_blocking(move || render(&metrics)).await;
    match body {
        Ok(Ok(body)) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                TextEncoder::new().format_type().to_owned(),
            )],
            body,
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("metrics task failed: {e}\n"),
        )
            .into_response(),
    }
}

/// The text exposition of every registered metric.
fn render(metrics: &Metrics) -> Result<String, prometheus::Error> {
    let mut buf = Vec::with_capacity(64 * 1024);
    TextEncoder::new().encode(&metrics.registry.gather(), &mut buf)?;
    Ok(String::from_utf8(buf).unwrap_or_default())
}

async fn ready_handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    if metrics.ready.get() == 1 {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn render_exports_the_standard_process_families() {
        let body = render(&Metrics::new()).unwrap();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
            "process_threads",
        ] {
            assert!(
                body.lines().any(|l| l.starts_with(&format!("{name} "))),
                "{name} missing from\n{body}"
            );
        }
        assert!(body.contains("manyi_messages_total"), "{body}");
    }
}
