//! The connections a client may hold: request headers must arrive within the configured time
//! (a client trickling them — slowloris — is closed), and one client address holds at most so
//! many connections; the server keeps serving the others at the cap.

use std::net::SocketAddr;
use std::time::Duration;

use dui_testkit::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SLOW_CLIENT: &str = "127.0.0.2";
/// How long the test waits for something the server must do within a second or two; reached,
/// the server did not do it.
const BOUND: Duration = Duration::from_secs(10);

async fn connect_from(address: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{address}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes the connection; `None` when it is still open after `BOUND`.
async fn closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut answered = Vec::new();
    match tokio::time::timeout(BOUND, stream.read_to_end(&mut answered)).await {
        Ok(_) => Some(answered),
        Err(_) => None,
    }
}

async fn served_from(address: &str, server: SocketAddr) -> String {
    let mut stream = connect_from(address, server).await;
    stream.write_all(b"GET /livez HTTP/1.1\r\nHost: dui\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = closed(&mut stream).await.expect("answered and closed");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_closed_and_others_are_served_at_its_cap() {
    let app = TestApp::spawn_with(|config| {
        config.http.header_read_timeout_secs = 1;
        config.http.max_connections_per_client = 20;
    })
    .await;
    let server: SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();

    // Twenty connections that never finish their headers: the client's cap.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut stream = connect_from(SLOW_CLIENT, server).await;
        stream.write_all(b"GET /livez HTTP/1.1\r\nHost: du").await.unwrap();
        slow.push(stream);
    }
    // One more from the same client is closed at once, unanswered.
    let mut over = connect_from(SLOW_CLIENT, server).await;
    let _ = over.write_all(b"GET /livez HTTP/1.1\r\nHost: dui\r\n\r\n").await;
    assert_eq!(closed(&mut over).await.expect("closed over the cap"), b"");
    // Another client is served meanwhile.
    assert!(served_from("127.0.0.1", server).await.starts_with("HTTP/1.1 200"));

    // The trickling connections are closed once the header time is up, and the client is
    // served again.
    for stream in &mut slow {
        let answer = closed(stream).await.expect("a connection trickling its headers is closed");
        assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    }
    let answer = served_from(SLOW_CLIENT, server).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn requests_on_a_kept_alive_connection_are_served_one_after_another() {
    // A connection may wait idle longer than a request's headers may take: the time of the
    // headers runs from the request's first byte, not from the previous answer.
    let app = TestApp::spawn_with(|config| config.http.header_read_timeout_secs = 1).await;
    let server: SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    let mut stream = connect_from("127.0.0.1", server).await;
    for _ in 0..3 {
        stream.write_all(b"GET /livez HTTP/1.1\r\nHost: dui\r\n\r\n").await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let read = tokio::time::timeout(BOUND, stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}
