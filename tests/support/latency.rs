//! A TCP proxy on 127.0.0.1 that delays every byte by a fixed time each
//! way: a server on loopback made to answer as one across a network would
//! (a registry in another building), without leaving loopback.
//!
//! Each direction of each connection is a reader that stamps what it reads
//! with the time it is due and a writer that sends it then, so the delay
//! does not cap throughput: many requests in flight overlap their waits as
//! they would on a real link. TLS passes through untouched.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub struct LatencyProxy {
    pub port: u16,
}

impl LatencyProxy {
    /// Forwards 127.0.0.1:`port` (the proxy's) to 127.0.0.1:`target`,
    /// `one_way` later in each direction. Runs until the process ends.
    pub fn start(target: u16, one_way: Duration) -> LatencyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    one_way,
                );
                pipe(server, client, one_way);
            }
        });
        LatencyProxy { port }
    }
}

/// Copies `from` to `to`, each chunk `delay` after it arrived.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (send, due) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if send
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // Dropping `send` tells the writer the stream ended.
    });
    thread::spawn(move || {
        for (at, bytes) in due {
            thread::sleep(at.saturating_duration_since(Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
