//! A malicious server for the tests: an HTTP proxy in front of the real
//! one that passes everything through, except the answers a rule rewrites —
//! a flipped bit, a moved item, a swapped key — as a compromised host could.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// Rewrites the answer body of a request (`method`, `path_and_query`).
pub type Rule = Arc<dyn Fn(&Method, &str, &mut Vec<u8>) + Send + Sync>;

/// The bodies of the requests sent to one path (method, path, body).
type Sent = Arc<Mutex<Vec<(Method, String, Vec<u8>)>>>;

#[derive(Clone)]
struct Shared {
    upstream: String,
    http: reqwest::Client,
    rule: Arc<Mutex<Option<Rule>>>,
    sent: Sent,
}

/// Requests larger than this are not kept (file uploads).
const KEEP_REQUEST_BODIES_UP_TO: usize = 64 * 1024;

/// A running proxy.
#[allow(missing_debug_implementations)]
pub struct Proxy {
    /// Its address, to give the SDK instead of the server's.
    pub base: String,
    rule: Arc<Mutex<Option<Rule>>>,
    sent: Sent,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy for `upstream` on an ephemeral port.
    pub async fn start(upstream: &str) -> Self {
        let rule: Arc<Mutex<Option<Rule>>> = Arc::default();
        let sent: Sent = Arc::default();
        let shared = Shared {
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
            rule: rule.clone(),
            sent: sent.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base,
            rule,
            sent,
            task,
        }
    }

    /// The bodies of the requests sent so far to exactly `path` (without
    /// query), oldest first, whatever the server answered: what a server
    /// keeps of a request it refused.
    pub fn sent_to(&self, path: &str) -> Vec<Vec<u8>> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p, _)| p.split('?').next() == Some(path))
            .map(|(_, _, body)| body.clone())
            .collect()
    }

    /// Rewrites answers from now on.
    pub fn set(&self, rule: impl Fn(&Method, &str, &mut Vec<u8>) + Send + Sync + 'static) {
        *self.rule.lock().unwrap() = Some(Arc::new(rule));
    }

    /// Passes everything through again.
    pub fn clear(&self) {
        *self.rule.lock().unwrap() = None;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if body.len() <= KEEP_REQUEST_BODIES_UP_TO {
        shared
            .sent
            .lock()
            .unwrap()
            .push((method.clone(), path.clone(), body.to_vec()));
    }
    let mut upstream = shared
        .http
        .request(method.clone(), format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let Ok(answer) = upstream.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = answer.status();
    let mut out_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            out_headers.insert(name.clone(), value.clone());
        }
    }
    let mut bytes = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    let rule = shared.rule.lock().unwrap().clone();
    if let Some(rule) = rule {
        rule(&method, &path, &mut bytes);
    }
    let mut response = Response::new(Body::from(Bytes::from(bytes)));
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    response
}
