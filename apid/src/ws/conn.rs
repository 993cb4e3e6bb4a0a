//! One socket's task: reads the client, follows the poller (the latest `live` value and the
//! event broadcast), sends protocol pings and re-checks the user's rights. Everything it sends
//! is awaited here, so a slow client only delays (and, on the `watch`, skips) its own frames.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};

use super::session::{Revoked, Session};
use crate::http::AppState;
use crate::permissions::Permissions;

/// Close code for a revoked user (policy violation).
const CLOSE_POLICY: u16 = 1008;
/// Close code for a missed heartbeat (going away).
const CLOSE_AWAY: u16 = 1001;

/// Why the loop ended.
enum End {
    /// The client closed or the connection broke: nothing more to send.
    Gone,
    /// We close, with a code and a reason.
    Close(u16, &'static str),
}

/// Serves one upgraded socket for `perms` until it ends; the hub entry goes with it.
pub(super) async fn run(socket: WebSocket, state: AppState, perms: Permissions) {
    let mut socket = Link {
        socket,
        send_timeout: state.hub.options().ping_every,
    };
    let session = Session::new(&state, perms);
    let end = serve(&mut socket, &state, session).await;
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
}

async fn serve(link: &mut Link, state: &AppState, mut session: Session<'_>) -> End {
    let options = state.hub.options();
    let mut live = state.live.clone();
    let mut last_taken = live.borrow_and_update().taken_at;
    let mut events = state.events.subscribe();
    let mut changes = state.hub.user_changes();
    let (mut live_open, mut events_open, mut changes_open) = (true, true, true);
    let mut ping = ticker(options.ping_every);
    let mut recheck = ticker(options.recheck_every);
    let mut awaiting_pong = false;

    if link.json(&session.greeting()).await.is_err() {
        return End::Gone;
    }
    loop {
        let out: Vec<Value> = tokio::select! {
            msg = link.socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return End::Gone,
                Some(Ok(Message::Text(text))) => vec![session.handle(text.as_str()).await],
                Some(Ok(Message::Binary(_))) => {
                    vec![super::protocol::error("Binary messages are not supported")]
                }
                Some(Ok(Message::Pong(_))) => {
                    awaiting_pong = false;
                    Vec::new()
                }
                // Pings are answered by the library.
                Some(Ok(Message::Ping(_))) => Vec::new(),
            },
            changed = live.changed(), if live_open => {
                if changed.is_err() {
                    live_open = false;
                    Vec::new()
                } else {
                    let snapshot = std::sync::Arc::clone(&live.borrow_and_update());
                    if snapshot.taken_at == last_taken {
                        Vec::new()
                    } else {
                        last_taken = snapshot.taken_at;
                        session.on_live(&snapshot)
                    }
                }
            },
            event = events.recv(), if events_open => match event {
                Ok(e) => session.on_event(&e).await.into_iter().collect(),
                Err(RecvError::Lagged(n)) => {
                    state.hub.count_lagged(n);
                    tracing::debug!(missed = n, "websocket fell behind the poller events");
                    Vec::new()
                }
                Err(RecvError::Closed) => {
                    events_open = false;
                    Vec::new()
                }
            },
            _ = ping.tick() => {
                if awaiting_pong {
                    tracing::debug!("websocket heartbeat missed: closing");
                    return End::Close(CLOSE_AWAY, "Heartbeat timeout");
                }
                awaiting_pong = true;
                if link.send(Message::Ping(Default::default())).await.is_err() {
                    return End::Gone;
                }
                Vec::new()
            },
            _ = recheck.tick() => match session.recheck().await {
                Ok(lost) => lost,
                Err(Revoked(reason)) => return End::Close(CLOSE_POLICY, reason),
            },
            change = changes.recv(), if changes_open => {
                let mine = match change {
                    Ok(user) => user == session.user_id(),
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => {
                        changes_open = false;
                        false
                    }
                };
                if !mine {
                    Vec::new()
                } else {
                    state.auth.invalidate(session.user_id());
                    match session.recheck().await {
                        Ok(lost) => lost,
                        Err(Revoked(reason)) => return End::Close(CLOSE_POLICY, reason),
                    }
                }
            },
        };
        for v in &out {
            if link.json(v).await.is_err() {
                return End::Gone;
            }
        }
    }
}

/// A ticker whose first tick is one period from now; late ticks are not bunched.
fn ticker(period: Duration) -> tokio::time::Interval {
    let period = period.max(Duration::from_millis(10));
    let mut t = interval_at(Instant::now() + period, period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// The socket with a bound on how long one frame may take to go out.
struct Link {
    socket: WebSocket,
    send_timeout: Duration,
}

impl Link {
    async fn send(&mut self, msg: Message) -> Result<(), ()> {
        match timeout(self.send_timeout, self.socket.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn json(&mut self, v: &Value) -> Result<(), ()> {
        self.send(Message::Text(v.to_string().into())).await
    }
}
