//! Webhook delivery: one JSON `POST` over HTTP/1.1 (hyper), TLS with rustls and the webpki roots.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::config::WebhookConfig;
use super::retry::Attempt;

/// A webhook ready to send: URL parsed, secret header built, TLS prepared.
pub(crate) struct Webhook {
    pub(crate) config: WebhookConfig,
    uri: Uri,
    secret: Option<(HeaderName, HeaderValue)>,
    tls: TlsConnector,
}

/// The rustls client configuration (ring, webpki roots), built once per notifier.
pub(crate) fn tls_connector() -> Result<TlsConnector, String> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl Webhook {
    /// Prepares a validated webhook configuration.
    pub(crate) fn new(config: WebhookConfig, tls: TlsConnector) -> Result<Self, String> {
        let uri: Uri = config.url.parse().map_err(|_| "invalid url".to_owned())?;
        let secret = match &config.secret {
            Some(s) => Some((
                HeaderName::from_bytes(config.secret_header.as_bytes())
                    .map_err(|_| "invalid secret_header".to_owned())?,
                {
                    let mut v = HeaderValue::from_str(s.expose())
                        .map_err(|_| "invalid secret".to_owned())?;
                    v.set_sensitive(true);
                    v
                },
            )),
            None => None,
        };
        Ok(Self {
            config,
            uri,
            secret,
            tls,
        })
    }

    /// Where it goes, for logs: scheme, host and port only (a URL may embed a token).
    pub(crate) fn target(&self) -> String {
        format!(
            "{}://{}",
            self.uri.scheme_str().unwrap_or("http"),
            self.uri.authority().map_or("?", |a| a.as_str())
        )
    }

    /// One attempt, bounded by the configured timeout.
    pub(crate) async fn attempt(&self, body: &Bytes) -> Attempt {
        match tokio::time::timeout(self.config.timeout(), self.post(body.clone())).await {
            Err(_) => Attempt::Retry("timed out".to_owned()),
            Ok(Err(e)) => Attempt::Retry(e),
            Ok(Ok(status)) if status.is_success() => Attempt::Done,
            Ok(Ok(status))
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS =>
            {
                Attempt::Retry(format!("HTTP {status}"))
            }
            Ok(Ok(status)) => Attempt::GiveUp(format!("HTTP {status}")),
        }
    }

    async fn post(&self, body: Bytes) -> Result<StatusCode, String> {
        let https = self.uri.scheme_str() == Some("https");
        let host = self.uri.host().ok_or("no host")?;
        let port = self.uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        // `[::1]` in a URL is `::1` to connect to.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((bare, port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let request = self.request(body)?;
        if https {
            let name = ServerName::try_from(bare.to_owned()).map_err(|e| e.to_string())?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("tls: {e}"))?;
            exchange(tls, request).await
        } else {
            exchange(tcp, request).await
        }
    }

    fn request(&self, body: Bytes) -> Result<Request<Full<Bytes>>, String> {
        let path = self
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let authority = self.uri.authority().map_or("", |a| a.as_str()).to_owned();
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, authority)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("twoine-apid/", env!("CARGO_PKG_VERSION")),
            );
        if let Some((name, value)) = &self.secret {
            builder = builder.header(name.clone(), value.clone());
        }
        builder
            .body(Full::new(body))
            .map_err(|_| "request not built".to_owned())
    }
}

async fn exchange<S>(io: S, request: Request<Full<Bytes>>) -> Result<StatusCode, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(conn);
    let result = sender
        .send_request(request)
        .await
        .map(|r| r.status())
        .map_err(|e| format!("request: {e}"));
    drop(sender);
    driver.abort();
    result
}
