//! `admin_tls:`: the admin listener over TLS, with a client certificate required when
//! `client_ca` is set; the admin token still applies on top.

use reqwest::StatusCode;

use crate::support::backend::Backend;
use crate::support::proxy::{Config, Proxy};
use crate::support::scratch::Scratch;
use crate::support::tls::{client_config, client_config_with_cert, Pki};

const TOKEN: &str = "admin-tls-token";

#[tokio::test]
async fn the_admin_listener_over_tls_requires_a_client_certificate_from_client_ca() {
    let (pki, clients, dir) = (Pki::new(), Pki::new(), Scratch::new());
    pki.leaf(&["admin.internal", "127.0.0.1"], 71)
        .write(dir.path(), "admin");
    let client_ca = dir.write("clients.pem", &clients.ca_pem());
    let d = dir.path().display();
    let section = format!(
        "admin_tls: {{ cert: {d}/admin.pem, key: {d}/admin.key, client_ca: {} }}",
        client_ca.display()
    );
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start_with_admin_token(&Config::new(&legacy).section(&section), TOKEN).await;
    let admin = proxy.running().admin_addr();
    let url = format!("https://admin.internal:{}/admin/routes", admin.port());

    let trusted = clients.leaf(&["ops"], 72);
    let with_cert = reqwest::Client::builder()
        .use_preconfigured_tls(client_config_with_cert(&pki.ca_pem(), &trusted))
        .resolve("admin.internal", admin)
        .build()
        .unwrap();
    let answer = with_cert
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("mTLS");
    assert_eq!(answer.status(), StatusCode::OK);
    let no_token = with_cert.get(&url).send().await.expect("mTLS");
    assert_eq!(
        no_token.status(),
        StatusCode::UNAUTHORIZED,
        "the token still applies"
    );

    // A certificate from another CA, then none at all: no connection.
    let stranger = pki.leaf(&["ops"], 73);
    let wrong = reqwest::Client::builder()
        .use_preconfigured_tls(client_config_with_cert(&pki.ca_pem(), &stranger))
        .resolve("admin.internal", admin)
        .build()
        .unwrap();
    assert!(wrong.get(&url).bearer_auth(TOKEN).send().await.is_err());
    let anonymous = (*client_config(&pki.ca_pem(), &[b"http/1.1"])).clone();
    let no_cert = reqwest::Client::builder()
        .use_preconfigured_tls(anonymous)
        .resolve("admin.internal", admin)
        .build()
        .unwrap();
    assert!(no_cert.get(&url).bearer_auth(TOKEN).send().await.is_err());
    let plain = reqwest::Client::new();
    let cleartext = plain
        .get(format!("http://{admin}/admin/routes"))
        .send()
        .await;
    assert!(cleartext.is_err() || cleartext.unwrap().status() != StatusCode::OK);
}
