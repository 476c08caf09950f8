//! A TCP relay between the proxy and its database, which a test can cut and restore: the
//! database going away and coming back, without touching the database itself.
//!
//! Cut, the relay closes every connection it carries (with a reset, as a crashed server's
//! host would) and resets every new one as soon as it is accepted, so a client fails at once
//! instead of waiting on a timeout. Restored, it relays new connections again; the old ones
//! stay gone, as they would after a real outage.
//!
//! Stopped, it also closes its listening socket, so a new connection is refused, as with a
//! database server that is not running; resumed, it listens on the same address again.

use std::net::SocketAddr;

use strangler_control::testing::PostgresDatabase;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running relay on 127.0.0.1:0 to one target address.
pub struct Relay {
    addr: SocketAddr,
    /// True while cut; every relayed connection watches it.
    cut: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

impl Relay {
    /// Starts relaying connections to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the relay");
        let addr = listener.local_addr().expect("relay address");
        let (cut, _) = watch::channel(false);
        let accepting = tokio::spawn(accept(listener, target, cut.clone()));
        Relay {
            addr,
            cut,
            accepting,
        }
    }

    /// A relay to `db`'s server, and `db`'s URL through it.
    pub async fn in_front_of(db: &PostgresDatabase) -> (Relay, String) {
        let relay = Relay::start(db.server_addr().await).await;
        let url = db.url_via(relay.addr);
        (relay, url)
    }

    /// Drops every connection and refuses new ones until [`Relay::restore`].
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Relays new connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    /// Drops every connection and stops listening: connects are refused until
    /// [`Relay::resume`].
    pub fn stop(&mut self) {
        self.cut();
        self.accepting.abort();
    }

    /// Listens on the same address again and relays.
    pub async fn resume(&mut self, target: SocketAddr) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("binding the relay again");
        self.restore();
        self.accepting = tokio::spawn(accept(listener, target, self.cut.clone()));
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, cut: watch::Sender<bool>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let watching = cut.subscribe();
        if *watching.borrow() {
            reset(client);
            continue;
        }
        tokio::spawn(relay(client, target, watching));
    }
}

/// Carries one connection until either side closes it or the relay is cut.
async fn relay(mut client: TcpStream, target: SocketAddr, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        reset(client);
        return;
    };
    let was_cut = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        _ = cut.wait_for(|cut| *cut) => true,
    };
    if was_cut {
        reset(client);
        reset(server);
    }
}

/// Closes `stream` with a reset rather than an orderly shutdown.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
