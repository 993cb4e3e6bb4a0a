//! A real WebSocket client (tokio-tungstenite) for the WebSocket tests.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use twoine_apid::model::Id;

use crate::support::api::TestApi;

/// How long a test waits for an expected message.
pub const WAIT: Duration = Duration::from_secs(5);

/// A connected socket.
pub struct Client {
    /// The raw stream (the heartbeat test stops reading it).
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `Sec-WebSocket-Protocol` the server chose, if any.
    pub protocol: Option<String>,
}

/// `ws://HOST/ws?token=...` (`path` is `/ws` or `/ws/`).
pub fn ws_url(api: &TestApi, path: &str) -> String {
    format!("{}{path}", api.url.replacen("http://", "ws://", 1))
}

/// What a refused upgrade answered: status and JSON body.
pub fn refused(e: Error) -> (u16, Value) {
    match e {
        Error::Http(resp) => {
            let body = resp.body().clone().unwrap_or_default();
            (
                resp.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            )
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Opens `/ws?token=`.
pub async fn try_connect(api: &TestApi, token: &str) -> Result<Client, Error> {
    open(format!("{}?token={token}", ws_url(api, "/ws")), None).await
}

/// Opens `path` with the token as `Sec-WebSocket-Protocol: <protocols>`.
pub async fn try_connect_protocol(
    api: &TestApi,
    path: &str,
    protocols: &str,
) -> Result<Client, Error> {
    open(ws_url(api, path), Some(protocols)).await
}

async fn open(url: String, protocols: Option<&str>) -> Result<Client, Error> {
    let mut req = url.into_client_request()?;
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    let (ws, resp) = connect_async(req).await?;
    let protocol = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok(Client { ws, protocol })
}

/// Opens `/ws?token=` and reads the `connected` message.
pub async fn connect(api: &TestApi, token: &str) -> Client {
    let mut c = try_connect(api, token).await.expect("upgrade");
    let hello = c.next_json().await;
    assert_eq!(hello["type"], "connected", "{hello}");
    c
}

/// How a socket ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// A close frame with its code and reason.
    Closed(u16, String),
    /// The stream ended or broke without one.
    Dropped,
}

impl Client {
    /// Sends a JSON text frame.
    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next JSON message within `within`, `None` if nothing came (pings are skipped and
    /// answered by the library).
    pub async fn next_within(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match msg {
                Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a JSON message, got {other:?}"),
            }
        }
    }

    /// The next JSON message (fails after [`WAIT`]).
    pub async fn next_json(&mut self) -> Value {
        self.next_within(WAIT).await.expect("a message within 5 s")
    }

    /// Asserts that nothing arrives within `within`.
    pub async fn assert_silent(&mut self, within: Duration, who: &str) {
        if let Some(v) = self.next_within(within).await {
            panic!("{who}: expected nothing, got {v}");
        }
    }

    /// Sends a request and returns the reply.
    pub async fn ask(&mut self, v: Value) -> Value {
        self.send(v).await;
        self.next_json().await
    }

    /// Subscribes to `channel` (with `site` for the site channel) and returns the reply.
    pub async fn subscribe(&mut self, channel: &str, site: Option<Id>) -> Value {
        let mut m = json!({"type": "subscribe", "channel": channel});
        if let Some(s) = site {
            m["siteId"] = json!(s);
        }
        self.ask(m).await
    }

    /// Subscribes and asserts the exact `subscribed` reply.
    pub async fn subscribed(&mut self, channel: &str, site: Option<Id>) {
        let reply = self.subscribe(channel, site).await;
        let mut want = json!({"type": "subscribed", "channel": channel});
        if let Some(s) = site {
            want["siteId"] = json!(s);
        }
        assert_eq!(reply, want);
    }

    /// Reads until the socket ends (within [`WAIT`]), skipping messages.
    pub async fn ended(&mut self) -> Ended {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("the socket should end within 5 s");
            match msg {
                Some(Ok(Message::Close(Some(f)))) => {
                    return Ended::Closed(f.code.into(), f.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Ended::Dropped,
                Some(Ok(_)) => continue,
            }
        }
    }
}
