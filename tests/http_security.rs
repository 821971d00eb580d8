//! `[http] web_config`: basic auth with bcrypt hashes and TLS, in the Prometheus exporter-toolkit
//! format, checked with a real HTTP client (ureq over rustls) against the running pipeline;
//! bad web configs fail validation naming the field.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{config, mock_cluster, start};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// Cost 4: the lowest bcrypt allows, so the test spends no time hashing.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// GET `url` with an optional Authorization header; the status code (non-2xx is not an error).
fn status(agent: &ureq::Agent, url: &str, auth: Option<&str>) -> u16 {
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    req.call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .status()
        .as_u16()
}

fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[test]
fn basic_auth_requires_the_right_password() {
    let cluster = mock_cluster(&[("fb", 1)]);
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "basic_auth_users:\n  prometheus: '{}'\n  grafana: '{}'\n",
            hash("s3cret"),
            hash("other")
        ),
    )
    .unwrap();
    let mut cfg = config(&cluster.bootstrap_servers(), &["fb"], "g-auth");
    cfg.http.web_config = Some(web);
    let running = start(cfg.validate().expect("valid web config"));

    let agent = plain_agent();
    let url = format!("http://{}/metrics", running.addr);
    let resp = agent.get(&url).call().unwrap();
    assert_eq!(resp.status(), 401, "no credentials");
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"manyi\"")
    );
    assert_eq!(
        status(&agent, &url, Some(&basic("prometheus", "wrong"))),
        401
    );
    assert_eq!(status(&agent, &url, Some(&basic("nobody", "s3cret"))), 401);
    assert_eq!(status(&agent, &url, Some(&basic("grafana", "s3cret"))), 401);
    assert_eq!(status(&agent, &url, Some("Bearer s3cret")), 401);
    assert_eq!(status(&agent, &url, Some("Basic !!notbase64")), 401);
    assert_eq!(
        status(&agent, &url, Some(&basic("prometheus", "s3cret"))),
        200
    );
    assert_eq!(status(&agent, &url, Some(&basic("grafana", "other"))), 200);
    // Every endpoint is protected, as with the exporter-toolkit.
    let healthz = format!("http://{}/healthz", running.addr);
    assert_eq!(status(&agent, &healthz, None), 401);
    assert_eq!(
        status(&agent, &healthz, Some(&basic("prometheus", "s3cret"))),
        200
    );

    let body = agent
        .get(&url)
        .header("Authorization", basic("prometheus", "s3cret"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(body.contains("manyi_build_info"), "{body}");
    running.stop().unwrap();
}

#[test]
fn tls_with_a_self_signed_certificate_and_basic_auth() {
    let cluster = mock_cluster(&[("fb", 1)]);
    let tmp = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::create_dir(tmp.path().join("tls")).unwrap();
    std::fs::write(tmp.path().join("tls/server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(
        tmp.path().join("tls/server.key"),
        cert.key_pair.serialize_pem(),
    )
    .unwrap();
    let web = tmp.path().join("web.yml");
    // Relative file names are relative to the web config's directory.
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: tls/server.key\n\
             basic_auth_users:\n  prometheus: {}\n",
            hash("s3cret")
        ),
    )
    .unwrap();
    let mut cfg = config(&cluster.bootstrap_servers(), &["fb"], "g-tls");
    cfg.http.web_config = Some(web);
    let running = start(cfg.validate().expect("valid web config"));
    let port = running.addr.port();

    let trusting: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(vec![Certificate::from_der(
                    cert.cert.der(),
                )
                .to_owned()])))
                .build(),
        )
        .build()
        .into();
    let url = format!("https://127.0.0.1:{port}/metrics");
    assert_eq!(status(&trusting, &url, None), 401);
    assert_eq!(
        status(&trusting, &url, Some(&basic("prometheus", "nope"))),
        401
    );
    assert_eq!(
        status(&trusting, &url, Some(&basic("prometheus", "s3cret"))),
        200
    );
    let localhost = format!("https://localhost:{port}/readyz");
    let code = status(&trusting, &localhost, Some(&basic("prometheus", "s3cret")));
    assert!(code == 200 || code == 503, "readyz over TLS: {code}");

    // A client that does not trust the certificate, and plain HTTP, get nothing.
    let default_roots = plain_agent();
    assert!(
        default_roots.get(&url).call().is_err(),
        "untrusted cert accepted"
    );
    let plain = format!("http://127.0.0.1:{port}/metrics");
    if let Ok(r) = default_roots.get(&plain).call() {
        panic!("plain HTTP on the TLS port answered {}", r.status());
    }
    // The server still serves after the failed handshakes.
    assert_eq!(
        status(&trusting, &url, Some(&basic("prometheus", "s3cret"))),
        200
    );
    running.stop().unwrap();
}

fn web_config_error(dir: &Path, yaml: &str) -> String {
    let web = dir.join("bad-web.yml");
    std::fs::write(&web, yaml).unwrap();
    let mut cfg = config("127.0.0.1:9", &["fb"], "g-bad");
    cfg.http.web_config = Some(web);
    cfg.validate().unwrap_err().to_string()
}

#[test]
fn a_bad_web_config_names_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("server.crt"), "not a certificate\n").unwrap();
    let cases = [
        (
            "basic_auth_users:\n  alice: plaintext\n".to_owned(),
            "basic_auth_users.alice",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  client_ca_file: ca.crt\n".to_owned(),
            "client_ca_file",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n".to_owned(),
            "tls_server_config.key_file",
        ),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n".to_owned(),
            "tls_server_config.cert_file",
        ),
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n".to_owned(),
            "tls_server_config.cert_file",
        ),
        (
            "http_server_config:\n  http2: true\n".to_owned(),
            "http_server_config",
        ),
        (
            format!("basic_auth_users:\n  'a:b': '{}'\n", hash("x")),
            "basic_auth_users.a:b",
        ),
    ];
    for (yaml, field) in cases {
        let err = web_config_error(d, &yaml);
        assert!(
            err.contains("http.web_config") && err.contains(field),
            "{yaml:?}: error {err:?} does not name {field}"
        );
    }
    let mut cfg = config("127.0.0.1:9", &["fb"], "g-bad");
    cfg.http.web_config = Some(d.join("does-not-exist.yml"));
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("http.web_config") && err.contains("does-not-exist.yml"),
        "{err}"
    );
}
