//! A network cable the test can pull: a TCP relay on 127.0.0.1 in front of
//! the real server. Pulled, it cuts every open connection and refuses new
//! ones (accepted and closed at once), which a browser or the SDK sees as a
//! server that cannot be reached; plugged back, it relays again. It can
//! also pull itself once a number of bytes went up, to cut an upload in
//! the middle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Default)]
struct Wire {
    pulled: AtomicBool,
    /// Bytes relayed towards the server since the last `pull_after`.
    up: AtomicU64,
    /// Pull once `up` passes this (0: never).
    pull_at: AtomicU64,
}

/// A running cable.
#[derive(Debug)]
pub struct Cable {
    /// Its address: what the client connects to.
    pub base: String,
    wire: Arc<Wire>,
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Cable {
    /// Binds the cable's port; nothing is relayed before [`Self::connect`].
    /// The address is known first so that a server can be told it is its
    /// public address (`KLUIS_PUBLIC_URL`: the page's origin).
    pub async fn bind() -> (Self, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (cut, _) = watch::channel(0);
        let cable = Self {
            base,
            wire: Arc::default(),
            cut,
            task: tokio::spawn(async {}),
        };
        (cable, listener)
    }

    /// Relays what `listener` accepts to `upstream` (`http://host:port`).
    pub fn connect(&mut self, listener: TcpListener, upstream: &str) {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let wire = self.wire.clone();
        let cut = self.cut.clone();
        self.task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if wire.pulled.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, wire.clone(), cut.clone()));
            }
        });
    }

    /// Cuts every connection now and refuses new ones.
    pub fn pull(&self) {
        self.wire.pulled.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Pulls the cable once `bytes` more have gone up towards the server.
    pub fn pull_after(&self, bytes: u64) {
        self.wire.up.store(0, Ordering::SeqCst);
        self.wire.pull_at.store(bytes, Ordering::SeqCst);
    }

    /// Whether the cable is pulled.
    pub fn is_pulled(&self) -> bool {
        self.wire.pulled.load(Ordering::SeqCst)
    }

    /// Relays again; counts the bytes going up from zero.
    pub fn plug(&self) {
        self.wire.up.store(0, Ordering::SeqCst);
        self.wire.pulled.store(false, Ordering::SeqCst);
    }

    /// Bytes relayed towards the server since the last `plug` or
    /// `pull_after`.
    pub fn bytes_up(&self) -> u64 {
        self.wire.up.load(Ordering::SeqCst)
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.send_modify(|n| *n += 1);
    }
}

async fn relay(client: TcpStream, server: TcpStream, wire: Arc<Wire>, cut: watch::Sender<u64>) {
    let mut pulled = cut.subscribe();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = {
        let wire = wire.clone();
        let cut = cut.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = client_read.read(&mut buf).await.unwrap_or(0);
                if n == 0
                    || server_write
                        .write_all(buf.get(..n).unwrap_or_default())
                        .await
                        .is_err()
                {
                    return;
                }
                let sent = wire.up.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                let at = wire.pull_at.load(Ordering::SeqCst);
                if at > 0 && sent >= at {
                    wire.pull_at.store(0, Ordering::SeqCst);
                    wire.pulled.store(true, Ordering::SeqCst);
                    cut.send_modify(|n| *n += 1);
                    return;
                }
            }
        }
    };
    let down = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    // Whichever ends first ends the connection: both halves are dropped,
    // which closes both sockets.
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = pulled.changed() => {}
    }
}
