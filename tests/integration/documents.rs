//! Documents attached to a person's record: PDF, JPEG and PNG round trips, the type decided
//! from the content, the size limit, content in many chunks, a tampered chunk failing the
//! download, idempotent retries, who adds and reads, the person's export.

use base64::Engine;
use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse, TestTenant};
use serde_json::json;

use crate::residents::{admit, identity};

/// Sends `bytes` as a document of `record` (`/api/v1/residents/{id}`), with the metadata of
/// `query`, declared as `content_type`.
pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    record: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut request = app
        .client
        .post(app.url(&format!("{record}/documents?{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    TestApp::read(request.send().await.expect("request sent")).await
}

/// Sends `bytes` to `path` (the upload's, with its query) as `content_type`.
pub(crate) async fn upload_to(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> TestResponse {
    let request = app.client.post(app.url(path)).bearer_auth(token).header("content-type", content_type).body(bytes);
    TestApp::read(request.send().await.expect("request sent")).await
}

/// Sends `bytes` as a PDF in chunked transfer encoding (no length announced), over a plain
/// connection; returns the answer's status line.
async fn chunked_upload(app: &TestApp, path: &str, token: &str, bytes: &[u8]) -> String {
    upload_in_pieces(app, path, token, bytes, std::time::Duration::ZERO).await
}

/// [`chunked_upload`], waiting `pause` between pieces of 64 KiB: a tablet on a slow link.
async fn upload_in_pieces(app: &TestApp, path: &str, token: &str, bytes: &[u8], pause: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base_url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer, and stop reading, before the end: writing may then fail.
    for part in bytes.chunks(64 * 1024) {
        let mut frame = format!("{:x}\r\n", part.len()).into_bytes();
        frame.extend_from_slice(part);
        frame.extend_from_slice(b"\r\n");
        if stream.write_all(&frame).await.is_err() {
            break;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
}

/// A one-page PDF (catalogue, pages, an empty page, cross-reference table, trailer).
pub(crate) fn tiny_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    pdf
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A 1×1 red PNG: signature, IHDR, IDAT (a zlib stream with one stored block), IEND.
pub(crate) fn tiny_png() -> Vec<u8> {
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut checked = kind.to_vec();
        checked.extend_from_slice(data);
        png.extend_from_slice(&checked);
        png.extend_from_slice(&crc32(&checked).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    // Width 1, height 1, 8 bits, truecolour, no interlace.
    chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    let scanline = [0u8, 255, 0, 0];
    let (mut a, mut b) = (1u32, 0u32);
    for byte in scanline {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    let mut zlib = vec![0x78, 0x01, 0x01, 4, 0, 0xFB, 0xFF];
    zlib.extend_from_slice(&scanline);
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// An 8×8 grey baseline JPEG: one component, quantisation table of ones, one-code Huffman
/// tables (DC difference 0, then end of block).
pub(crate) fn tiny_jpeg() -> Vec<u8> {
    let mut jpeg = vec![0xFF, 0xD8];
    jpeg.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    jpeg.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    jpeg.extend_from_slice(&[1u8; 64]);
    jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
    for class in [0x00, 0x10] {
        jpeg.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class, 1]);
        jpeg.extend_from_slice(&[0u8; 15]);
        jpeg.push(0);
    }
    jpeg.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
    // DC category 0 ("0"), end of block ("0"), padded with ones.
    jpeg.push(0x3F);
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    jpeg
}

/// `size` bytes of a PDF: the header, then bytes that follow no pattern a chunk could hide.
pub(crate) fn large_pdf(size: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while pdf.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        pdf.push((state >> 24) as u8);
    }
    pdf
}

/// Runs `sql` as the owner inside the tenant, returning the first column of the first row.
async fn owner_i64(app: &TestApp, tenant: &TestTenant, sql: &str) -> i64 {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute(&format!("BEGIN; SELECT set_config('app.tenant_id', '{}', true)", tenant.id)).await.unwrap();
    let value: i64 = owner.query_one(sql, &[]).await.unwrap().get(0);
    owner.batch_execute("COMMIT").await.unwrap();
    value
}

async fn as_owner(app: &TestApp, tenant: &TestTenant, sql: &str) {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!("BEGIN; SELECT set_config('app.tenant_id', '{}', true); {sql}; COMMIT;", tenant.id))
        .await
        .unwrap();
}

async fn stored(app: &TestApp, tenant: &TestTenant) -> (i64, i64) {
    (
        owner_i64(app, tenant, "SELECT count(*) FROM documents").await,
        owner_i64(app, tenant, "SELECT count(*) FROM document_chunks").await,
    )
}

async fn record(app: &TestApp, tenant: &TestTenant, name: &str) -> String {
    let admitted = admit(app, tenant, json!({"identity": identity(name, "Marthe", "1934-02-02")})).await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap())
}

#[tokio::test]
async fn pdf_jpeg_and_png_go_in_and_come_back_as_they_were() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let record = record(&app, &tenant, "Papiers").await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let carer = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;

    let files = [
        (
            "kind=advance_directives&title=Directives%20anticip%C3%A9es&document_date=2025-06-01",
            "application/pdf",
            tiny_pdf(),
        ),
        ("kind=identity_document&title=Carte%20d%27identit%C3%A9", "application/octet-stream", tiny_jpeg()),
        ("kind=wound_photo&title=Talon%20droit", "image/png", tiny_png()),
    ];
    let mut ids = Vec::new();
    for (query, declared, bytes) in &files {
        let added = upload(&app, &nurse.token, &record, query, declared, bytes.clone(), &[]).await;
        assert_eq!(added.status, 201, "{}", added.text);
        assert_eq!(added.json["size_bytes"], bytes.len());
        assert_eq!(added.json["status"], "active");
        let sha = owner_i64(
            &app,
            &tenant,
            &format!(
                "SELECT count(*) FROM documents WHERE id = '{}' AND sha256 = encode(sha256('\\x{}'::bytea), 'hex')",
                added.json["id"].as_str().unwrap(),
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        )
        .await;
        assert_eq!(sha, 1, "the SHA-256 is the content's");
        ids.push(added.json["id"].as_str().unwrap().to_owned());
    }
    let types = ["application/pdf", "image/jpeg", "image/png"];
    for ((id, (_, _, bytes)), content_type) in ids.iter().zip(&files).zip(types) {
        // A care assistant of the team reads them.
        let content = app.get(&format!("{record}/documents/{id}/content"), &carer.token).await;
        assert_eq!(content.status, 200, "{}", content.text);
        assert_eq!(&content.bytes, bytes);
        assert_eq!(content.header("content-type"), Some(content_type));
        assert_eq!(content.header("content-length"), Some(bytes.len().to_string().as_str()));
        let disposition = content.header("content-disposition").unwrap();
        assert!(disposition.starts_with("attachment; filename=\""), "{disposition}");
        let meta = app.get(&format!("{record}/documents/{id}"), &carer.token).await;
        assert_eq!((meta.status, meta.json["content_type"].as_str()), (200, Some(content_type)), "{}", meta.text);
    }
    let first = app.get(&format!("{record}/documents/{}/content", ids[0]), &nurse.token).await;
    assert_eq!(first.header("content-disposition"), Some("attachment; filename=\"Directives_anticip_es.pdf\""));

    // Listed newest first, paged, metadata only.
    let list = app.get(&format!("{record}/documents?limit=2"), &carer.token).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let titles: Vec<&str> =
        list.json["items"].as_array().unwrap().iter().map(|d| d["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Talon droit", "Carte d'identité"]);
    assert!(list.json["items"][0].get("content").is_none());
    let cursor = list.json["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("{record}/documents?limit=2&cursor={cursor}"), &carer.token).await;
    assert_eq!(rest.json["items"][0]["kind"], "advance_directives");
    assert_eq!(rest.json["items"][0]["document_date"], "2025-06-01");
    assert!(rest.json["next_cursor"].is_null());

    // The photo was another person's: flagged, kept, with who and why.
    let flag = format!("{record}/documents/{}/entered-in-error", ids[2]);
    app.post(&flag, &nurse.token, json!({"reason": ""})).await.problem(422);
    let flagged = app.post(&flag, &nurse.token, json!({"reason": "Photo d'une autre résidente"})).await;
    assert_eq!(flagged.status, 200, "{}", flagged.text);
    assert_eq!(flagged.json["status"], "entered_in_error");
    assert_eq!(flagged.json["title"], "Talon droit");
    assert_eq!(flagged.json["entered_in_error"]["reason"], "Photo d'une autre résidente");
    app.post(&flag, &nurse.token, json!({"reason": "Encore"})).await.problem(409);
    let still = app.get(&format!("{record}/documents/{}/content", ids[2]), &nurse.token).await;
    assert_eq!(still.bytes, files[2].2, "nothing is deleted");

    // Validation names the field; those outside the care team add nothing, and read no document.
    let bad = upload(
        &app,
        &nurse.token,
        &record,
        "kind=other&title=%20&document_date=2999-01-01",
        "application/pdf",
        tiny_pdf(),
        &[],
    )
    .await;
    let fields: Vec<&str> =
        bad.problem(422)["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["title", "document_date"]);
    upload(&app, &nurse.token, &record, "kind=will&title=Testament", "application/pdf", tiny_pdf(), &[])
        .await
        .problem(400);
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    upload(&app, &social.token, &record, "kind=other&title=Courrier", "application/pdf", tiny_pdf(), &[])
        .await
        .problem(403);
    let listed = app.get(&format!("{record}/documents"), &social.token).await;
    assert_eq!((listed.status, listed.json["items"].as_array().unwrap().len()), (200, 0), "{}", listed.text);
    app.get(&format!("{record}/documents/{}/content", ids[0]), &social.token).await.problem(404);
    assert_eq!(stored(&app, &tenant).await, (3, 3));
}

#[tokio::test]
async fn what_is_not_a_pdf_a_jpeg_or_a_png_is_refused_saying_what_it_is() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Formats").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let query = "kind=hospital_letter&title=Compte%20rendu.pdf";
    let refused = |response: TestResponse, found: &str| {
        let detail = response.problem(415)["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(found), "{detail}");
        assert!(detail.contains("application/pdf") && detail.contains("image/png"), "{detail}");
    };
    let text = b"Compte rendu d'hospitalisation, tape dans un editeur.".to_vec();
    refused(upload(&app, &nurse.token, &record, query, "application/pdf", text, &[]).await, "text");
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec();
    exe.extend_from_slice(&[0u8; 300_000]);
    refused(upload(&app, &nurse.token, &record, query, "application/pdf", exe, &[]).await, "Windows executable");
    // A PNG sent as a PDF: the content decides, and disagrees.
    refused(upload(&app, &nurse.token, &record, query, "application/pdf", tiny_png(), &[]).await, "PNG");
    refused(upload(&app, &nurse.token, &record, query, "text/plain", tiny_pdf(), &[]).await, "text/plain");
    refused(upload(&app, &nurse.token, &record, query, "application/pdf", Vec::new(), &[]).await, "empty");
    refused(upload(&app, &nurse.token, &record, query, "application/pdf", b"%PDF".to_vec(), &[]).await, "text");
    assert_eq!(stored(&app, &tenant).await, (0, 0), "nothing of a refused file stays");
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_and_leaves_nothing() {
    let app = TestApp::spawn_with(|config| config.http.document_max_bytes = 600 * 1024).await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Limite").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let query = "kind=other&title=Gros";
    // Announced too large: refused before it is read.
    let response = upload(&app, &nurse.token, &record, query, "application/pdf", large_pdf(700 * 1024), &[]).await;
    assert!(response.problem(413)["detail"].as_str().unwrap().contains("614400"), "{}", response.text);
    // Sent without a length (chunked): refused once the limit is passed, before anything is
    // stored.
    let status =
        chunked_upload(&app, &format!("{record}/documents?{query}"), &nurse.token, &large_pdf(700 * 1024)).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(stored(&app, &tenant).await, (0, 0), "nothing of the refused file stays");
    // At the limit exactly, it goes in.
    let exact = upload(&app, &nurse.token, &record, query, "application/pdf", large_pdf(600 * 1024), &[]).await;
    assert_eq!(exact.status, 201, "{}", exact.text);
    assert_eq!(stored(&app, &tenant).await, (1, 3));
}

/// Uploads from tablets on slow links: each is received before the database is asked for
/// anything, so that while they arrive the pool's connections and the tenant's places serve the
/// other requests; and an upload may take longer than an ordinary request.
#[tokio::test]
async fn slow_uploads_hold_no_connection_and_may_outlast_the_request_timeout() {
    let app = TestApp::spawn_with(|config| {
        config.database.pool_size = 4;
        config.database.acquire_timeout_ms = 500;
        config.limits.tenant_concurrency = Some(2);
        config.limits.queue_timeout_ms = 500;
        config.http.request_timeout_secs = 1;
        config.http.upload_timeout_secs = 30;
    })
    .await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Lente").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let path = format!("{record}/documents?kind=hospital_letter&title=Compte%20rendu");
    // Four scans of 320 KiB, each sent in five pieces half a second apart (about 2.5 s: longer than
    // the request timeout), all at once: more than the pool's connections and the tenant's
    // places.
    let pdf = large_pdf(320 * 1024);
    let pause = std::time::Duration::from_millis(500);
    let upload = || upload_in_pieces(&app, &path, &nurse.token, &pdf, pause);
    // Meanwhile the record is read, again and again: answered, not queued behind the uploads.
    let reads = async {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(app.get(&record, &nurse.token).await.status);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        statuses
    };
    let (a, b, c, d, read) = tokio::join!(upload(), upload(), upload(), upload(), reads);
    let uploaded = [a, b, c, d];
    assert_eq!(read, [200; 5]);
    for status in &uploaded {
        assert!(status.starts_with("HTTP/1.1 201"), "{uploaded:?}");
    }
    let listed = app.get(&format!("{record}/documents"), &nurse.token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 4, "{}", listed.text);
    // An ordinary request still has its own limit.
    assert_eq!(app.get(&record, &nurse.token).await.status, 200);
}

#[tokio::test]
async fn a_file_of_many_chunks_comes_back_byte_for_byte_and_a_tampered_chunk_fails_loudly() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Morceaux").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let size = 3 * 1024 * 1024 + 12_345;
    let body = large_pdf(size);
    let added = upload(
        &app,
        &nurse.token,
        &record,
        "kind=hospital_letter&title=Dossier%20de%20sortie",
        "application/pdf",
        body.clone(),
        &[],
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let id = added.json["id"].as_str().unwrap().to_owned();
    assert_eq!(stored(&app, &tenant).await, (1, 13), "256 KiB chunks");
    let url = format!("{record}/documents/{id}/content");
    let content = app.get(&url, &nurse.token).await;
    assert_eq!(content.status, 200);
    assert!(content.bytes == body, "byte for byte");

    let download =
        || async { app.client.get(app.url(&url)).bearer_auth(&nurse.token).send().await.expect("answer started") };
    let chunk = |index: i32| format!("document_id = '{id}' AND chunk_index = {index}");
    // A bit flipped in a middle chunk: the answer has begun, and is cut off, never complete.
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE document_chunks SET content = set_byte(content, 100, get_byte(content, 100) # 1) WHERE {}",
            chunk(5)
        ),
    )
    .await;
    let response = download().await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "a tampered chunk cuts the download off");
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE document_chunks SET content = set_byte(content, 100, get_byte(content, 100) # 1) WHERE {}",
            chunk(5)
        ),
    )
    .await;
    assert!(download().await.bytes().await.unwrap() == body, "restored, it opens again");
    // Two chunks swapped.
    as_owner(&app, &tenant, &format!(
        "UPDATE document_chunks SET chunk_index = 100 WHERE {a}; UPDATE document_chunks SET chunk_index = 2 WHERE {b}; \
         UPDATE document_chunks SET chunk_index = 3 WHERE {c}", a = chunk(2), b = chunk(3), c = chunk(100))).await;
    assert!(download().await.bytes().await.is_err(), "reordered chunks do not open");
    as_owner(&app, &tenant, &format!(
        "UPDATE document_chunks SET chunk_index = 100 WHERE {a}; UPDATE document_chunks SET chunk_index = 2 WHERE {b}; \
         UPDATE document_chunks SET chunk_index = 3 WHERE {c}", a = chunk(2), b = chunk(3), c = chunk(100))).await;
    // Cut short: the last chunk gone and the count lowered to match.
    as_owner(&app, &tenant, &format!(
        "CREATE TEMP TABLE kept AS SELECT * FROM document_chunks WHERE {last}; DELETE FROM document_chunks WHERE {last}; \
         UPDATE documents SET chunk_count = 12, size_bytes = {short} WHERE id = '{id}'",
        last = chunk(12), short = 12 * 256 * 1024)).await;
    assert!(download().await.bytes().await.is_err(), "a content cut short does not open as complete");
    // The first chunk altered: refused before the answer starts.
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE document_chunks SET content = set_byte(content, 100, get_byte(content, 100) # 1) WHERE {}",
            chunk(0)
        ),
    )
    .await;
    assert_eq!(app.get(&url, &nurse.token).await.status, 500);
}

#[tokio::test]
async fn a_retried_upload_with_its_idempotency_key_makes_one_document() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Reprise").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let query = "kind=residence_contract&title=Contrat%20de%20s%C3%A9jour";
    let body = large_pdf(300 * 1024);
    let key = [("Idempotency-Key", "contrat-1")];
    let first = upload(&app, &nurse.token, &record, query, "application/pdf", body.clone(), &key).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = upload(&app, &nurse.token, &record, query, "application/pdf", body.clone(), &key).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json["id"], first.json["id"]);
    assert_eq!(stored(&app, &tenant).await, (1, 2), "the chunks sent again are not kept");
    // The same key with another content, or other metadata: refused.
    let other = upload(&app, &nurse.token, &record, query, "application/pdf", large_pdf(300 * 1024 + 1), &key).await;
    other.problem(422);
    let renamed = upload(&app, &nurse.token, &record, "kind=other&title=Autre", "application/pdf", body, &key).await;
    renamed.problem(422);
    assert_eq!(stored(&app, &tenant).await, (1, 2));
}

#[tokio::test]
async fn the_persons_export_gives_each_document_with_its_content() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Export").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let body = large_pdf(600 * 1024);
    let added = upload(
        &app,
        &nurse.token,
        &record,
        "kind=advance_directives&title=Directives",
        "application/pdf",
        body.clone(),
        &[],
    )
    .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let export = app.get(&format!("{record}/export"), &tenant.admin.token).await;
    assert_eq!(export.status, 200, "{}", export.text);
    let documents = export.json["record"]["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0]["title"], "Directives");
    let content =
        base64::engine::general_purpose::STANDARD.decode(documents[0]["content_base64"].as_str().unwrap()).unwrap();
    assert!(content == body, "the content, whole");
}

#[tokio::test]
async fn a_key_rotation_reseals_every_chunk_and_the_content_still_comes_back() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let record = record(&app, &tenant, "Rotation").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let body = large_pdf(5 * 256 * 1024 + 7);
    let added =
        upload(&app, &nurse.token, &record, "kind=prescription&title=Ordonnance", "application/pdf", body.clone(), &[])
            .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let url = format!("{record}/documents/{}/content", added.json["id"].as_str().unwrap());

    assert_eq!(app.store.rotate_data_key(tenant.id).await.unwrap(), 2);
    let stale = "SELECT count(*) FROM document_chunks WHERE dek_version < 2 OR get_byte(content, 4) <> 2";
    assert_eq!(owner_i64(&app, &tenant, stale).await, 6);
    let options = dui_storage::ReencryptOptions { batch_size: 500, max_batches: None };
    app.store.reencrypt_tenant(tenant.id, options, &mut |_| {}).await.unwrap();
    // Every chunk sealed again under the new key (the version is in each sealed value's header),
    // and the document's row too.
    assert_eq!(owner_i64(&app, &tenant, stale).await, 0);
    assert_eq!(owner_i64(&app, &tenant, "SELECT count(*) FROM documents WHERE dek_version < 2").await, 0);
    assert!(!app.store.has_stale_rows(tenant.id).await.unwrap());
    let content = app.get(&url, &nurse.token).await;
    assert_eq!(content.status, 200);
    assert!(content.bytes == body, "byte for byte after resealing");
}
