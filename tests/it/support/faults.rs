//! New services that fail in the ways the fallback and the breaker handle: one that answers
//! every request with a fixed status (after reading the whole body, so the proxy has read
//! it too), one that answers too late, and one that can be killed and brought back on the
//! same port, closing every connection it holds as a crashed process would.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use axum::Router;

use super::backend::{echo_router, BACKEND_HEADER};
use super::Backend;

/// A backend named `name` answering every request `status` once it has read the body.
pub async fn failing(name: &'static str, status: u16) -> Backend {
    let status = StatusCode::from_u16(status).expect("a status code");
    let router = Router::new().fallback(move |body: Bytes| async move {
        let text = format!("{name} failed after reading {} bytes\n", body.len());
        (status, [(BACKEND_HEADER, name)], text).into_response()
    });
    Backend::serve_counted(router.layer(axum::extract::DefaultBodyLimit::disable())).await
}

/// A backend named `name` answering every request after `delay`.
pub async fn slow(name: &'static str, delay: Duration) -> Backend {
    let router = Router::new().fallback(move || async move {
        tokio::time::sleep(delay).await;
        ([(BACKEND_HEADER, name)], "late\n").into_response()
    });
    Backend::serve_counted(router).await
}

/// An echo backend that can be stopped and started again on the same address.
pub struct Restartable {
    name: String,
    addr: SocketAddr,
    serving: Option<Serving>,
}

/// One run of a [`Restartable`]: the accept loop and a copy of every connection accepted.
struct Serving {
    task: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Restartable {
    /// An echo backend called `name` on a fresh port.
    pub async fn start(name: &str) -> Restartable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a backend");
        let addr = listener.local_addr().expect("backend address");
        let serving = Some(Serving::run(listener, name));
        Restartable {
            name: name.to_string(),
            addr,
            serving,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Kills it: the port refuses connections and every open connection is shut down.
    pub fn stop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.task.abort();
            for connection in serving.connections.lock().expect("connections").drain(..) {
                let _ = connection.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Serves again on the same address.
    pub async fn restart(&mut self) {
        self.stop();
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("binding the backend's port again");
        self.serving = Some(Serving::run(listener, &self.name));
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Serving {
    fn run(listener: tokio::net::TcpListener, name: &str) -> Serving {
        let connections = Arc::new(Mutex::new(Vec::new()));
        let kept = connections.clone();
        let listener = listener.tap_io(move |stream: &mut tokio::net::TcpStream| {
            if let Ok(fd) = stream.as_fd().try_clone_to_owned() {
                kept.lock()
                    .expect("connections")
                    .push(std::net::TcpStream::from(fd));
            }
        });
        let router = echo_router(name);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Serving { task, connections }
    }
}
