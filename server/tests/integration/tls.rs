//! TLS with rustls, tested against a certificate chain made here: an rcgen
//! CA and a leaf for `localhost`. A client trusting the CA gets answers
//! with HSTS; a client that does not trust it, or that speaks plain HTTP,
//! gets nothing.

use kluis_server::http::extract::PeerAddr;
use kluis_server::store::Engine;
use kluis_test_support::{temp_dir, TestDb};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::common::config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_with_hsts_to_clients_that_trust_the_ca() {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Kluis test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let dir = temp_dir();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    // The chain as operators install it: leaf first, then the CA.
    std::fs::write(&cert_path, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(&key_path, leaf_key.serialize_pem()).unwrap();

    let db = TestDb::new(Engine::Sqlite);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = config(
        &db,
        &format!("https://localhost:{}", addr.port()),
        &[
            ("KLUIS_TLS_CERT", cert_path.to_str().unwrap()),
            ("KLUIS_TLS_KEY", key_path.to_str().unwrap()),
        ],
    );
    assert!(config.tls());
    let (router, _state) = kluis_server::build(&config).await.unwrap();
    let tls = kluis_server::tls::server_config(&cert_path, &key_path).unwrap();
    let listener = kluis_server::tls::TlsListener::new(listener, tls).unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<PeerAddr>(),
        )
        .await
        .unwrap();
    });

    let url = format!("https://localhost:{}/healthz", addr.port());
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let response = trusting.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=63072000"), "{hsts}");

    let untrusting = reqwest::Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(untrusting.get(&url).send().await.is_err());
    let plain = reqwest::get(format!("http://127.0.0.1:{}/healthz", addr.port())).await;
    assert!(plain.is_err(), "plain HTTP on the TLS port gets no answer");
    // A hung client does not block others: open a TCP connection and say
    // nothing while a real client is served.
    let _silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(trusting.get(&url).send().await.unwrap().status(), 200);

    // Broken files fail the start with a clear error.
    std::fs::write(&key_path, "not a key").unwrap();
    let err = kluis_server::tls::server_config(&cert_path, &key_path).unwrap_err();
    assert!(err.to_string().contains("key.pem"), "{err}");
}
