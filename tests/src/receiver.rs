//! A real webhook receiver for tests: an axum server on 127.0.0.1:0 that records every request
//! and answers as each path is told to (succeed, fail, hang, redirect, 410, 429).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// How a path answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 200.
    Succeed,
    /// 500 for the first n requests, then 200.
    FailFirst(usize),
    /// Always 500.
    AlwaysFail,
    /// Waits this long before answering 200.
    Hang(Duration),
    /// 302 to `/redirected`.
    Redirect,
    /// 410 Gone.
    Gone,
    /// 429 with `Retry-After: n` on the first request, then 200.
    RetryAfterOnce(u64),
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }

    /// True when one of the `webhook-signature` entries is the Standard Webhooks signature
    /// of this request under `secret` (computed here, independently of the server's code).
    pub fn signed_with(&self, secret: &str) -> bool {
        use hmac::{Hmac, Mac};
        let key = BASE64
            .decode(secret.strip_prefix("whsec_").expect("whsec_ secret"))
            .expect("base64 secret");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(
            format!(
                "{}.{}.{}",
                self.header("webhook-id"),
                self.header("webhook-timestamp"),
                self.body
            )
            .as_bytes(),
        );
        let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
        self.header("webhook-signature")
            .split(' ')
            .any(|signature| signature == expected)
    }
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    behaviours: Mutex<HashMap<String, Behaviour>>,
}

pub struct Receiver {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = shared
        .behaviours
        .lock()
        .unwrap()
        .get(&path)
        .copied()
        .unwrap_or(Behaviour::Succeed);
    let earlier = {
        let mut hits = shared.hits.lock().unwrap();
        let earlier = hits.iter().filter(|hit| hit.path == path).count();
        hits.push(Hit {
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_string(),
                        value.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        earlier
    };
    match behaviour {
        Behaviour::Succeed => (StatusCode::OK, "thanks").into_response(),
        Behaviour::FailFirst(n) if earlier < n => {
            (StatusCode::INTERNAL_SERVER_ERROR, "not yet").into_response()
        }
        Behaviour::FailFirst(_) => (StatusCode::OK, "thanks").into_response(),
        Behaviour::AlwaysFail => {
            (StatusCode::INTERNAL_SERVER_ERROR, "x".repeat(5000)).into_response()
        }
        Behaviour::Hang(wait) => {
            tokio::time::sleep(wait).await;
            (StatusCode::OK, "late").into_response()
        }
        Behaviour::Redirect => (
            StatusCode::FOUND,
            [(axum::http::header::LOCATION, "/redirected")],
            "",
        )
            .into_response(),
        Behaviour::Gone => (StatusCode::GONE, "gone").into_response(),
        Behaviour::RetryAfterOnce(seconds) if earlier == 0 => (
            StatusCode::TOO_MANY_REQUESTS,
            [(axum::http::header::RETRY_AFTER, seconds.to_string())],
            "slow down",
        )
            .into_response(),
        Behaviour::RetryAfterOnce(_) => (StatusCode::OK, "thanks").into_response(),
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/{path}", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:<port>/<path>`, answering as `behaviour` says.
    pub fn url(&self, path: &str, behaviour: Behaviour) -> String {
        self.shared
            .behaviours
            .lock()
            .unwrap()
            .insert(path.to_string(), behaviour);
        format!("http://{}/{path}", self.address)
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.shared
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|hit| hit.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has had `count` requests (panics after `within`).
    pub async fn wait_for(&self, path: &str, count: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits(path);
            if hits.len() >= count {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} of {count} requests after {within:?}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
