//! The connections a client may hold, and what it may send on them: request headers must
//! arrive within the configured time (a client trickling them — slowloris — is closed) and fit
//! in `http.max_header_bytes` (431), a body trickled after them is cut off by the request
//! timeout, a request whose length is ambiguous is refused without serving what hides in it,
//! and one client address holds at most so many connections; the server keeps serving the
//! others throughout.

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

/// The status lines of the answers in `answer` (an answer's body ends without a line break, so
/// the next status line may follow it on the same line).
fn statuses(answer: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(answer);
    text.match_indices("HTTP/1.1 ").map(|(at, _)| text[at..].lines().next().unwrap_or_default().to_owned()).collect()
}

/// Sends `request` whole on a new connection from `address` and reads until the server closes
/// it; `None` when it is still open after `BOUND`. A server that closes before it has read
/// everything may make the write fail: that is an answer too.
async fn send_and_read(address: &str, server: SocketAddr, request: &[u8]) -> Option<Vec<u8>> {
    let mut stream = connect_from(address, server).await;
    let _ = stream.write_all(request).await;
    closed(&mut stream).await
}

#[tokio::test]
async fn oversized_headers_are_refused_with_431_and_others_are_served() {
    let app = TestApp::spawn().await;
    let server: SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    let with_headers =
        |headers: &str| format!("GET /livez HTTP/1.1\r\nHost: dui\r\n{headers}Connection: close\r\n\r\n");

    // A request within the limits is served: what follows is refused for its size alone.
    let fine = with_headers(&format!("X-Fine: {}\r\n", "a".repeat(8000)));
    let answer = send_and_read("127.0.0.1", server, fine.as_bytes()).await.expect("answered and closed");
    assert_eq!(statuses(&answer), ["HTTP/1.1 200 OK"]);

    let many: String = (0..200).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let huge = format!("X-Huge: {}\r\n", "a".repeat(100_000));
    let enormous = format!("X-Enormous: {}\r\n", "a".repeat(4_000_000));
    for (case, headers) in [("200 headers", many), ("a 100 kB header", huge), ("a 4 MB header", enormous)] {
        let answer = send_and_read("127.0.0.1", server, with_headers(&headers).as_bytes())
            .await
            .unwrap_or_else(|| panic!("{case}: the connection is still open"));
        let statuses = statuses(&answer);
        assert!(
            statuses == ["HTTP/1.1 431 Request Header Fields Too Large"] || statuses.is_empty(),
            "{case}: {statuses:?}"
        );
        assert!(served_from("127.0.0.1", server).await.starts_with("HTTP/1.1 200"), "others are served");
    }

    // The cap is on headers: a body larger than it still reaches the handler.
    let tenant = app.tenant("Alpha").await;
    let body = serde_json::json!({"birth_name": "a".repeat(200_000), "birth_date": "1940-01-01"});
    let searched = app.post("/api/v1/residents/search", &tenant.admin.token, body).await;
    assert!(matches!(searched.status, 200 | 400 | 422), "answered by the handler: {}", searched.status);
}

/// A body trickled a byte at a time once its headers are complete is not waited for
/// without end: the request is answered within the request timeout and the connection
/// closed; an unauthenticated one is answered at once, without its body.
#[tokio::test]
async fn a_body_trickled_after_its_headers_is_cut_off_in_bounded_time() {
    let app = TestApp::spawn_with(|config| config.http.request_timeout_secs = 2).await;
    let server: SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    let tenant = app.tenant("Alpha").await;
    for token in [Some(tenant.admin.token.as_str()), None] {
        let mut stream = connect_from(SLOW_CLIENT, server).await;
        let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "POST /api/v1/residents/search HTTP/1.1\r\nHost: dui\r\n{authorization}Content-Type: application/json\r\nContent-Length: 60\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let trickle = tokio::spawn(async move {
            for byte in b"{\"birth_name\": \"Lente\", \"birth_date\": \"1940-01-01\"}        " {
                if writer.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let started = tokio::time::Instant::now();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(BOUND, reader.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the connection is still open after {BOUND:?}");
        let statuses = statuses(&answer);
        match token {
            // The handler's time ran out while it waited for the body.
            Some(_) => {
                assert_eq!(statuses, ["HTTP/1.1 503 Service Unavailable"], "{}", String::from_utf8_lossy(&answer))
            }
            None => {
                assert_eq!(statuses, ["HTTP/1.1 401 Unauthorized"]);
                assert!(started.elapsed() < Duration::from_secs(2), "answered without waiting for the body");
            }
        }
        trickle.abort();
        // Meanwhile, and after, others are served.
        assert!(served_from("127.0.0.1", server).await.starts_with("HTTP/1.1 200"));
    }
}

/// Requests whose length is ambiguous are refused or answered alone, the connection closed: a
/// second request hidden in the body (request smuggling) is never served.
#[tokio::test]
async fn conflicting_lengths_are_refused_and_nothing_is_smuggled() {
    let app = TestApp::spawn().await;
    let server: SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    // Two requests in a row on one connection are both served: the check below would see a
    // smuggled one.
    let pipelined =
        b"GET /livez HTTP/1.1\r\nHost: dui\r\n\r\nGET /livez HTTP/1.1\r\nHost: dui\r\nConnection: close\r\n\r\n";
    let answer = send_and_read("127.0.0.1", server, pipelined).await.expect("answered and closed");
    assert_eq!(statuses(&answer), ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);

    let smuggled = "GET /readyz HTTP/1.1\r\nHost: dui\r\n\r\n";
    let cases = [
        (
            "Content-Length then Transfer-Encoding",
            format!("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "Transfer-Encoding then Content-Length",
            format!("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "two different Content-Length",
            format!("Content-Length: 0\r\nContent-Length: {}\r\n\r\n{smuggled}", smuggled.len()),
        ),
        ("Content-Length with a space", format!("Content-Length: 0 {}\r\n\r\n{smuggled}", smuggled.len())),
        (
            "a transfer coding other than chunked last",
            format!("Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n{smuggled}"),
        ),
        ("Transfer-Encoding identity", format!("Transfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n{smuggled}")),
    ];
    for (case, rest) in cases {
        let request = format!("POST /api/v1/residents/search HTTP/1.1\r\nHost: dui\r\n{rest}");
        let answer = send_and_read("127.0.0.1", server, request.as_bytes())
            .await
            .unwrap_or_else(|| panic!("{case}: the connection is still open"));
        let statuses = statuses(&answer);
        assert!(statuses.len() <= 1, "{case}: the hidden request was served: {statuses:?}");
        assert!(statuses.iter().all(|s| s.starts_with("HTTP/1.1 4")), "{case}: {statuses:?}");
    }
    assert!(served_from("127.0.0.1", server).await.starts_with("HTTP/1.1 200"));
}

/// A burst of connections from one client: those over its cap are closed at once, those under
/// it are served, and another client is served meanwhile.
#[tokio::test]
async fn a_burst_of_connections_from_one_client_is_capped_and_others_are_served() {
    let app = TestApp::spawn_with(|config| config.http.max_connections_per_client = 20).await;
    let server: SocketAddr = app.base_url.trim_start_matches("http://").parse().unwrap();
    let mut streams = Vec::new();
    for _ in 0..100 {
        streams.push(connect_from(SLOW_CLIENT, server).await);
    }
    assert!(served_from("127.0.0.1", server).await.starts_with("HTTP/1.1 200"), "another client is served");
    let mut outcomes = Vec::new();
    for mut stream in streams {
        outcomes.push(tokio::spawn(async move {
            let _ = stream.write_all(b"GET /livez HTTP/1.1\r\nHost: dui\r\n\r\n").await;
            let mut buffer = vec![0u8; 4096];
            match tokio::time::timeout(BOUND, stream.read(&mut buffer)).await {
                Ok(Ok(read)) => Some(String::from_utf8_lossy(&buffer[..read]).into_owned()),
                // Reset by the server: closed.
                Ok(Err(_)) => Some(String::new()),
                Err(_) => None,
            }
        }));
    }
    let (mut served, mut closed) = (0, 0);
    for outcome in outcomes {
        match outcome.await.unwrap().expect("every connection is answered or closed in bounded time") {
            answer if answer.starts_with("HTTP/1.1 200") => served += 1,
            answer if answer.is_empty() => closed += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((served, closed), (20, 80));
    // Once they are closed, the client is served again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(served_from(SLOW_CLIENT, server).await.starts_with("HTTP/1.1 200"));
}
