//! gRPC-style exchanges through the proxy to an `http2: true` service, over h2c (prior
//! knowledge) and over TLS (ALPN h2): a request body streamed in pieces, each piece echoed
//! back before the next is sent (streaming both ways, nothing buffered whole), and the
//! `grpc-status` trailers passed through untouched.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::support::backend::Backend;
use crate::support::proxy::{Config, Proxy};
use crate::support::scratch::Scratch;
use crate::support::tls::{server_config, Pki};

/// An HTTP/2 echo server: every DATA frame of a request is sent back as it arrives, then
/// trailers `grpc-status: 0`, `grpc-message: echoed`. Over TLS when `tls` is given.
async fn h2_echo(
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_h2(tcp).await,
                    Some(config) => {
                        if let Ok(stream) = TlsAcceptor::from(config).accept(tcp).await {
                            serve_h2(stream).await
                        }
                    }
                }
            });
        }
    });
    (addr, task)
}

async fn serve_h2<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(io: S) {
    let Ok(mut connection) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        tokio::spawn(async move {
            let mut body = request.into_body();
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut send = respond.send_response(head, false).unwrap();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                send.send_data(chunk, false).unwrap();
            }
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            trailers.insert("grpc-message", "echoed".parse().unwrap());
            send.send_trailers(trailers).unwrap();
        });
    }
}

/// Sends two pieces through the proxy at `proxy` over h2c, each after the echo of the one
/// before, and returns the echoes and the trailers.
async fn exchange(proxy: SocketAddr) -> (Vec<Bytes>, HeaderMap) {
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2c handshake");
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::post(format!("http://{proxy}/echo.Echo/Stream"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("x-tenant-id", "acme")
        .body(())
        .unwrap();
    let (response, mut upload) = client.send_request(request, false).unwrap();
    upload.send_data(Bytes::from_static(b"one"), false).unwrap();
    let response = response.await.expect("a response head");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    let mut body = response.into_body();
    let mut echoes = vec![body.data().await.expect("first echo").unwrap()];
    upload.send_data(Bytes::from_static(b"two"), true).unwrap();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        echoes.push(chunk);
    }
    let trailers = body.trailers().await.unwrap().expect("trailers");
    (echoes, trailers)
}

fn grpc_config(legacy: &Backend, service: String) -> Config {
    Config::new(legacy)
        .service_url("grpc", service)
        .routes("  - { name: rpc, match: { path: \"/echo.Echo/**\" }, service: grpc, rollout: { percent: 100 } }\n")
}

#[tokio::test]
async fn a_grpc_stream_passes_through_to_an_h2c_service_with_its_trailers() {
    let legacy = Backend::echo("legacy").await;
    let (backend, _task) = h2_echo(None).await;
    let proxy = Proxy::start(&grpc_config(
        &legacy,
        format!("{{ url: http://{backend}, http2: true }}"),
    ))
    .await;
    let (echoes, trailers) = exchange(proxy.running().proxy_addr()).await;
    assert_eq!(echoes.concat(), b"onetwo");
    assert_eq!(
        echoes[0], "one",
        "the first piece came back before the second was sent"
    );
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "echoed");
}

#[tokio::test]
async fn a_grpc_stream_passes_through_to_an_h2_service_over_tls() {
    let (pki, dir) = (Pki::new(), Scratch::new());
    let ca = dir.write("ca.pem", &pki.ca_pem());
    let legacy = Backend::echo("legacy").await;
    let pair = pki.leaf(&["grpc.internal"], 9);
    let (backend, _task) = h2_echo(Some(server_config(&pair, None, &[b"h2"]))).await;
    let spec = format!(
        "{{ url: https://{backend}, http2: true, tls: {{ ca: {}, sni: grpc.internal }} }}",
        ca.display()
    );
    let proxy = Proxy::start(&grpc_config(&legacy, spec)).await;
    let (echoes, trailers) = exchange(proxy.running().proxy_addr()).await;
    assert_eq!(echoes.concat(), b"onetwo");
    assert_eq!(trailers["grpc-status"], "0");
}
