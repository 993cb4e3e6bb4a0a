//! The router's logging: whatever the level, no token from a header or the query string is
//! written to the log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use tokio::sync::{broadcast, watch};
use tower::ServiceExt;

use super::auth::{Auth, JwtKeys, Secret};
use super::{AppParts, AppState, Mode, app};
use crate::agent::{AgentClient, AgentClientConfig};
use crate::model::MonitoringConfig;
use crate::poller::{Clock, LiveSnapshot, PollerOutputs};
use crate::store::embedded::EmbeddedStore;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_never_reach_the_log_even_at_trace_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("t.db")).unwrap();
    let keys = JwtKeys::new(
        &Secret::new("unit-secret-0123456789abcdef0123456789"),
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(120),
    );
    let (_live_tx, live) = watch::channel(Arc::new(LiveSnapshot::default()));
    let (events, _) = broadcast::channel(4);
    let (monitoring, _) = watch::channel(MonitoringConfig::default());
    let state = AppState::new(AppParts {
        store: Arc::new(store),
        auth: Auth::new(keys),
        agent: AgentClient::new(AgentClientConfig::with_socket(dir.path().join("none.sock"))),
        poller: PollerOutputs { live, events },
        monitoring,
        mode: Mode::Standalone,
        clock: Clock::default(),
    });
    let router = app(state);
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzZWNyZXQtcGF5bG9hZCI6MX0.c2VjcmV0LXNpZ25hdHVyZQ";
    for req in [
        Request::get(format!("/ws?token={token}")).body(Body::empty()),
        Request::get("/api/stats/server")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty()),
        Request::post("/api/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"email":"admin","password":"hunter2-secret"}"#,
            )),
    ] {
        let resp = router.clone().oneshot(req.unwrap()).await.unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("/api/stats/server"),
        "requests are logged: {log}"
    );
    for secret in [token, "c2VjcmV0LXNpZ25hdHVyZQ", "hunter2-secret"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}
