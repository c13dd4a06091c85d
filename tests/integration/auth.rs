//! Authentication: every way a token can be wrong is refused with a 401 problem that says why,
//! and the right tokens get in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dui_auth::own::Subject;
use dui_domain::people::Role;
use dui_domain::{TenantId, UserId};
use dui_testkit::{FakeIdp, TestApp, keys};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

fn own_kid(app: &TestApp) -> String {
    app.issuer.jwks().keys[0].common.key_id.clone().unwrap()
}

/// Signs arbitrary claims with the server's own key and key id.
fn own_sign(app: &TestApp, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(own_kid(app));
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_pem(keys::SIGNING_KEY.as_bytes()).unwrap()).unwrap()
}

fn own_claims(tenant: TenantId, user: UserId) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": "http://dui.test", "aud": "dui", "sub": user.to_string(), "tid": tenant.to_string(),
           "ctx": "tenant", "iat": now, "nbf": now, "exp": now + 600, "jti": Uuid::new_v4().to_string()})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[track_caller]
fn assert_refused(response: &dui_testkit::TestResponse, reason: &str) {
    let problem = response.problem(401);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.to_lowercase().contains(&reason.to_lowercase()), "expected {reason:?} in {detail:?}");
    assert!(response.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{:?}", response.headers);
}

#[tokio::test]
async fn own_tokens_refused_for_every_reason() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let valid = own_claims(tenant.id, nurse.id);
    let now = chrono::Utc::now().timestamp();

    // The valid token works: what follows is refused for its one defect only.
    assert_eq!(app.get("/api/v1/me", &own_sign(&app, &valid)).await.status, 200);

    let no_token = app.request(reqwest::Method::GET, "/api/v1/me", None, None).await;
    assert_refused(&no_token, "no bearer token");
    assert_eq!(no_token.header("www-authenticate"), Some("Bearer"));

    let basic =
        app.client.get(app.url("/api/v1/me")).header("authorization", "Basic dXNlcjpwYXNz").send().await.unwrap();
    assert_refused(&TestApp::read(basic).await, "not a bearer token");

    let token = own_sign(&app, &valid);
    let (head, signature) = token.rsplit_once('.').unwrap();
    let mut forged: Vec<u8> = URL_SAFE_NO_PAD.decode(signature).unwrap();
    forged[0] ^= 0x01;
    let bad_signature = format!("{head}.{}", URL_SAFE_NO_PAD.encode(forged));
    assert_refused(&app.get("/api/v1/me", &bad_signature).await, "signature is invalid");

    // A token re-signed after its claims were edited (another tenant) fails the same way.
    let (_, payload_and_sig) = token.split_once('.').unwrap();
    let other_payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&own_claims(TenantId::from_uuid(Uuid::now_v7()), nurse.id)).unwrap());
    let spliced =
        format!("{}.{other_payload}.{}", token.split('.').next().unwrap(), payload_and_sig.split('.').nth(1).unwrap());
    assert_refused(&app.get("/api/v1/me", &spliced).await, "signature is invalid");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let none_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&valid).unwrap());
    assert_refused(&app.get("/api/v1/me", &format!("{none_header}.{none_payload}.")).await, "not a well-formed JWT");

    // Algorithm confusion: HMAC "signed" with the server's public key.
    let public_jwk = serde_json::to_vec(&app.issuer.jwks().keys[0]).unwrap();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(own_kid(&app));
    let confused = jsonwebtoken::encode(&hs, &valid, &EncodingKey::from_secret(&public_jwk).unwrap()).unwrap();
    assert_refused(&app.get("/api/v1/me", &confused).await, "algorithm is not accepted");

    let expired = with(with(valid.clone(), "exp", json!(now - 3600)), "iat", json!(now - 7200));
    let expired = with(expired, "nbf", json!(now - 7200));
    assert_refused(&app.get("/api/v1/me", &own_sign(&app, &expired)).await, "expired");

    let future = with(valid.clone(), "nbf", json!(now + 3600));
    assert_refused(&app.get("/api/v1/me", &own_sign(&app, &future)).await, "not valid yet");

    let wrong_issuer = with(valid.clone(), "iss", json!("https://evil.example"));
    assert_refused(&app.get("/api/v1/me", &own_sign(&app, &wrong_issuer)).await, "issuer is not trusted");

    let wrong_audience = with(valid.clone(), "aud", json!("another-service"));
    assert_refused(&app.get("/api/v1/me", &own_sign(&app, &wrong_audience)).await, "audience");

    let mut unknown_kid = Header::new(Algorithm::EdDSA);
    unknown_kid.kid = Some("not-a-key-of-ours".to_owned());
    let token =
        jsonwebtoken::encode(&unknown_kid, &valid, &EncodingKey::from_ed_pem(keys::SIGNING_KEY.as_bytes()).unwrap())
            .unwrap();
    assert_refused(&app.get("/api/v1/me", &token).await, "key is unknown");

    // Signed by a key the server does not trust, with a kid it does: the signature fails.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(own_kid(&app));
    let foreign = jsonwebtoken::encode(
        &header,
        &valid,
        &EncodingKey::from_ed_pem(keys::PREVIOUS_SIGNING_KEY.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_refused(&app.get("/api/v1/me", &foreign).await, "signature is invalid");

    let missing_exp =
        valid.as_object().unwrap().iter().filter(|(k, _)| *k != "exp").map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_refused(&app.get("/api/v1/me", &own_sign(&app, &Value::Object(missing_exp))).await, "lacks the claim exp");

    let unknown_user = app.token(Subject::TenantUser { tenant: tenant.id, user: UserId::from_uuid(Uuid::now_v7()) });
    assert_refused(&app.get("/api/v1/me", &unknown_user).await, "user is unknown");

    let unknown_tenant = app.token(Subject::TenantUser { tenant: TenantId::from_uuid(Uuid::now_v7()), user: nurse.id });
    assert_refused(&app.get("/api/v1/me", &unknown_tenant).await, "user is unknown");

    // The user of another tenant, with this tenant's id in the token: unknown here.
    let other = app.tenant("Beta").await;
    let crossed = app.token(Subject::TenantUser { tenant: tenant.id, user: other.admin.id });
    assert_refused(&app.get("/api/v1/me", &crossed).await, "user is unknown");

    let garbage = app.get("/api/v1/me", "not.a.jwt").await;
    assert_refused(&garbage, "not a well-formed JWT");
}

#[tokio::test]
async fn disabling_a_user_or_suspending_a_tenant_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    assert_eq!(app.get("/api/v1/me", &nurse.token).await.status, 200);

    let disabled =
        app.patch(&format!("/api/v1/users/{}", nurse.id), &tenant.admin.token, json!({"status": "disabled"})).await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_refused(&app.get("/api/v1/me", &nurse.token).await, "user is disabled");
    let enabled =
        app.patch(&format!("/api/v1/users/{}", nurse.id), &tenant.admin.token, json!({"status": "active"})).await;
    assert_eq!(enabled.status, 200);
    assert_eq!(app.get("/api/v1/me", &nurse.token).await.status, 200);

    let (_, operator) = app.operator().await;
    let suspended = app.post(&format!("/platform/v1/tenants/{}/suspend", tenant.id), &operator, json!({})).await;
    assert_eq!(suspended.json["status"], "suspended", "{}", suspended.text);
    assert_refused(&app.get("/api/v1/me", &nurse.token).await, "tenant is suspended");
    assert_refused(&app.get("/api/v1/me", &tenant.admin.token).await, "tenant is suspended");
    // Another tenant is unaffected.
    let other = app.tenant("Beta").await;
    assert_eq!(app.get("/api/v1/me", &other.admin.token).await.status, 200);

    app.post(&format!("/platform/v1/tenants/{}/resume", tenant.id), &operator, json!({})).await;
    assert_eq!(app.get("/api/v1/me", &nurse.token).await.status, 200);
}

#[tokio::test]
async fn operators_and_tenant_users_stay_on_their_side() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (_, operator) = app.operator().await;
    // An operator's token opens no tenant data.
    for path in ["/api/v1/me", "/api/v1/establishments", "/api/v1/users"] {
        app.get(path, &operator).await.problem(403);
    }
    // A tenant user's token opens no platform endpoint.
    app.get("/platform/v1/tenants", &tenant.admin.token).await.problem(403);
    // A disabled or unknown operator is refused.
    let ghost = app.token(Subject::Operator(dui_domain::OperatorId::from_uuid(Uuid::now_v7())));
    assert_refused(&app.get("/platform/v1/tenants", &ghost).await, "user is unknown");
}

/// A tenant with an external provider registered (through the platform API) and a nurse linked
/// to the subject `psc-8100000001` (through the tenant API).
async fn external_setup(app: &TestApp, idp: &FakeIdp) -> (dui_testkit::TestTenant, String) {
    let tenant = app.tenant("Alpha").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let (_, operator) = app.operator().await;
    let audience = format!("dui-{}", tenant.id);
    let created = app
        .post(
            &format!("/platform/v1/tenants/{}/identity-providers", tenant.id),
            &operator,
            json!({"label": "Pro Santé Connect (test)", "issuer": idp.issuer, "audience": audience, "jwks_url": idp.jwks_url}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let provider = created.json["id"].as_str().unwrap().to_owned();
    let linked = app
        .put(
            &format!("/api/v1/users/{}/external-identities/{provider}", nurse.id),
            &tenant.admin.token,
            json!({"subject": "psc-8100000001"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    (tenant, audience)
}

#[tokio::test]
async fn external_provider_tokens_map_to_the_linked_user() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let (tenant, audience) = external_setup(&app, &idp).await;

    let me = app.get("/api/v1/me", &idp.token("psc-8100000001", &audience)).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["tenant"]["id"], tenant.id.to_string());
    assert_eq!(me.json["memberships"][0]["role"], "nurse");

    // Keys are cached: more requests, no more fetches.
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/me", &idp.token("psc-8100000001", &audience)).await.status, 200);
    }
    assert_eq!(idp.fetches(), 1);

    // The provider rotates its key: the unknown kid triggers one refresh, then works.
    let rotated = idp.rotate().await;
    assert_eq!(app.get("/api/v1/me", &rotated.token("psc-8100000001", &audience)).await.status, 200);
    assert_eq!(idp.fetches(), 2);
    assert_eq!(app.get("/api/v1/me", &rotated.token("psc-8100000001", &audience)).await.status, 200);
    assert_eq!(idp.fetches(), 2);
}

#[tokio::test]
async fn external_tokens_refused_for_every_reason() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let (tenant, audience) = external_setup(&app, &idp).await;
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"iss": idp.issuer, "aud": audience, "sub": "psc-8100000001", "iat": now, "nbf": now, "exp": now + 600});
    assert_eq!(app.get("/api/v1/me", &idp.sign(&claims)).await.status, 200);

    assert_refused(&app.get("/api/v1/me", &idp.token("psc-unknown", &audience)).await, "user is unknown");
    assert_refused(
        &app.get("/api/v1/me", &idp.token("psc-8100000001", "another-audience")).await,
        "issuer is not trusted",
    );
    assert_refused(&app.get("/api/v1/me", &idp.sign(&with(claims.clone(), "exp", json!(now - 3600)))).await, "expired");
    assert_refused(
        &app.get("/api/v1/me", &idp.sign(&with(claims.clone(), "nbf", json!(now + 3600)))).await,
        "not valid yet",
    );
    let no_subject: Value =
        claims.as_object().unwrap().iter().filter(|(k, _)| *k != "sub").map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_refused(&app.get("/api/v1/me", &idp.sign(&no_subject)).await, "lacks the claim sub");

    // Algorithm confusion: HS256 with the provider's public key as the HMAC secret.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(idp.kid().to_owned());
    let confused =
        idp.sign_with_header(&hs, &claims, &EncodingKey::from_secret(keys::IDP_RSA_PUBLIC_KEY.as_bytes()).unwrap());
    assert_refused(&app.get("/api/v1/me", &confused).await, "algorithm is not accepted");

    // Signed by someone else's key under the provider's kid.
    let mut rs = Header::new(Algorithm::RS256);
    rs.kid = Some(idp.kid().to_owned());
    let forged =
        idp.sign_with_header(&rs, &claims, &EncodingKey::from_rsa_pem(keys::IDP_RSA_ROTATED_KEY.as_bytes()).unwrap());
    assert_refused(&app.get("/api/v1/me", &forged).await, "signature is invalid");

    let mut unknown = Header::new(Algorithm::RS256);
    unknown.kid = Some("never-published".to_owned());
    let unknown =
        idp.sign_with_header(&unknown, &claims, &EncodingKey::from_rsa_pem(keys::IDP_RSA_KEY.as_bytes()).unwrap());
    assert_refused(&app.get("/api/v1/me", &unknown).await, "key is unknown");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    assert_refused(&app.get("/api/v1/me", &format!("{none_header}.{payload}.")).await, "not a well-formed JWT");

    // A suspended tenant's external users are refused too.
    let (_, operator) = app.operator().await;
    app.post(&format!("/platform/v1/tenants/{}/suspend", tenant.id), &operator, json!({})).await;
    assert_refused(&app.get("/api/v1/me", &idp.sign(&claims)).await, "tenant is suspended");
}

#[tokio::test]
async fn unknown_key_ids_cannot_make_the_server_hammer_the_provider() {
    let app = TestApp::spawn_with(|config| config.auth.jwks_refresh_min_interval_secs = 300).await;
    let idp = FakeIdp::start().await;
    let (_, audience) = external_setup(&app, &idp).await;
    assert_eq!(app.get("/api/v1/me", &idp.token("psc-8100000001", &audience)).await.status, 200);
    assert_eq!(idp.fetches(), 1);
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": idp.issuer, "aud": audience, "sub": "psc-8100000001", "exp": now + 600});
    for i in 0..5 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("made-up-{i}"));
        let token =
            idp.sign_with_header(&header, &claims, &EncodingKey::from_rsa_pem(keys::IDP_RSA_KEY.as_bytes()).unwrap());
        assert_refused(&app.get("/api/v1/me", &token).await, "key is unknown");
    }
    assert_eq!(idp.fetches(), 1, "refreshes are rate-limited per provider");
}

#[tokio::test]
async fn the_jwks_endpoint_publishes_current_and_previous_keys() {
    let previous = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(previous.path(), keys::PREVIOUS_SIGNING_KEY).unwrap();
    let path = previous.path().to_owned();
    let app = TestApp::spawn_with(|config| config.auth.previous_key_files = vec![path]).await;
    let jwks = app.request(reqwest::Method::GET, "/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, 200);
    let keys = jwks.json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519" && k["kid"].is_string() && k.get("d").is_none())
    );

    // A token signed by the previous key still works during the rotation.
    let tenant = app.tenant("Alpha").await;
    let previous_kid = keys[1]["kid"].as_str().unwrap().to_owned();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(previous_kid);
    let token = jsonwebtoken::encode(
        &header,
        &own_claims(tenant.id, tenant.admin.id),
        &EncodingKey::from_ed_pem(keys::PREVIOUS_SIGNING_KEY.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(app.get("/api/v1/me", &token).await.status, 200);
}

/// Signs `claims` with `key` under a header of the attacker's making.
fn forge(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// Kids that would matter if a kid were ever a file name, a query or a log line.
const INJECTED_KIDS: [&str; 6] = [
    "../../../../etc/passwd",
    "/dev/null",
    "' OR '1'='1' --",
    "x'; DROP TABLE users; --",
    "kid\nforged log line",
    "%00%2e%2e%2f",
];

/// A token's header may point at a key (`jku`, `x5u`), carry one (`jwk`), or name one (`kid`):
/// the server takes keys only from its own ring and from each provider's registered JWKS URL,
/// so an attacker who signs with his own key and points the server at it is refused, and his
/// key server is never called. Kids that look like paths or SQL are just unknown names.
#[tokio::test]
async fn keys_named_or_carried_by_the_token_itself_are_never_used() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let (tenant, audience) = external_setup(&app, &idp).await;
    // The attacker's key server, publishing a key the provider never had (`idp-key-2`).
    let attacker = FakeIdp::start().await.rotate().await;
    let attacker_rsa = EncodingKey::from_rsa_pem(keys::IDP_RSA_ROTATED_KEY.as_bytes()).unwrap();
    let attacker_ed = EncodingKey::from_ed_pem(keys::PREVIOUS_SIGNING_KEY.as_bytes()).unwrap();
    let attacker_ed_jwk = {
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker_ed, Algorithm::EdDSA).unwrap();
        jwk.common.key_id = Some("attacker".to_owned());
        jwk
    };
    let attacker_rsa_jwk = {
        let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker_rsa, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(attacker.kid().to_owned());
        jwk
    };
    let hmac = EncodingKey::from_secret(b"the attacker's own HMAC secret").unwrap();
    let secret_jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&hmac, Algorithm::HS256).unwrap();

    // The server's own tokens: a valid one first, so each refusal is for the header alone.
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let own = own_claims(tenant.id, nurse.id);
    assert_eq!(app.get("/api/v1/me", &own_sign(&app, &own)).await.status, 200);
    let ed = |kid: &str| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        header
    };
    let rs = |kid: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header
    };
    let mut attacks: Vec<(&str, String, &str)> = Vec::new();
    // The attacker's key embedded, under its own kid and under the server's.
    let mut header = ed("attacker");
    header.jwk = Some(attacker_ed_jwk.clone());
    attacks.push(("own: jwk, own kid", forge(&header, &own, &attacker_ed), "key is unknown"));
    let mut header = ed(&own_kid(&app));
    header.jwk = Some(attacker_ed_jwk.clone());
    attacks.push(("own: jwk, server's kid", forge(&header, &own, &attacker_ed), "signature is invalid"));
    // An HMAC key embedded, and the token "signed" with it.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(own_kid(&app));
    header.jwk = Some(secret_jwk.clone());
    attacks.push(("own: jwk with an HMAC secret", forge(&header, &own, &hmac), "algorithm is not accepted"));
    // The attacker's key server, by jku and x5u.
    for (name, pointer) in [("own: jku", "jku"), ("own: x5u", "x5u")] {
        let mut header = rs(attacker.kid());
        match pointer {
            "jku" => header.jku = Some(attacker.jwks_url.clone()),
            _ => header.x5u = Some(attacker.jwks_url.clone()),
        }
        attacks.push((name, forge(&header, &own, &attacker_rsa), "key is unknown"));
        let mut header = rs(&own_kid(&app));
        header.jku = Some(attacker.jwks_url.clone());
        header.x5u = Some(attacker.jwks_url.clone());
        attacks.push((name, forge(&header, &own, &attacker_rsa), "algorithm is not accepted"));
    }
    for kid in INJECTED_KIDS {
        attacks.push(("own: injected kid", forge(&ed(kid), &own, &attacker_ed), "key is unknown"));
        // Signed with the server's real key: the kid still has to be one of its own.
        let real = EncodingKey::from_ed_pem(keys::SIGNING_KEY.as_bytes()).unwrap();
        attacks.push(("own: injected kid, real key", forge(&ed(kid), &own, &real), "key is unknown"));
    }
    let long_kid = "k".repeat(4096);
    attacks.push(("own: 4 kB kid", forge(&ed(&long_kid), &own, &attacker_ed), "key is unknown"));

    // An external provider's tokens: its keys come from its registered JWKS URL only.
    let now = chrono::Utc::now().timestamp();
    let external =
        json!({"iss": idp.issuer, "aud": audience, "sub": "psc-8100000001", "iat": now, "nbf": now, "exp": now + 600});
    assert_eq!(app.get("/api/v1/me", &idp.sign(&external)).await.status, 200);
    let mut header = rs(attacker.kid());
    header.jku = Some(attacker.jwks_url.clone());
    attacks.push(("external: jku", forge(&header, &external, &attacker_rsa), "key is unknown"));
    let mut header = rs(attacker.kid());
    header.x5u = Some(attacker.jwks_url.clone());
    attacks.push(("external: x5u", forge(&header, &external, &attacker_rsa), "key is unknown"));
    let mut header = rs(attacker.kid());
    header.jwk = Some(attacker_rsa_jwk.clone());
    attacks.push(("external: jwk", forge(&header, &external, &attacker_rsa), "key is unknown"));
    let mut header = rs(idp.kid());
    header.jwk = Some(attacker_rsa_jwk.clone());
    header.jku = Some(attacker.jwks_url.clone());
    attacks.push((
        "external: jwk and jku, provider's kid",
        forge(&header, &external, &attacker_rsa),
        "signature is invalid",
    ));
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(idp.kid().to_owned());
    header.jwk = Some(secret_jwk);
    attacks.push(("external: jwk with an HMAC secret", forge(&header, &external, &hmac), "algorithm is not accepted"));
    for kid in INJECTED_KIDS {
        attacks.push(("external: injected kid", forge(&rs(kid), &external, &attacker_rsa), "key is unknown"));
    }

    for (name, token, reason) in &attacks {
        let refused = app.get("/api/v1/me", token).await;
        assert_eq!(refused.status, 401, "{name}: {}", refused.text);
        assert_refused(&refused, reason);
    }
    // A kid that is not a string at all is no token.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":["a","b"]}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&own).unwrap());
    assert_refused(&app.get("/api/v1/me", &format!("{header}.{payload}.c2ln")).await, "not a well-formed JWT");
    assert_eq!(attacker.fetches(), 0, "the attacker's key server was never called");
    // The users table is whole: the "SQL" in the kids was only ever a name.
    assert_eq!(app.get("/api/v1/me", &own_sign(&app, &own)).await.status, 200);
}

/// The tenant comes from the token, and only from it: tenant A's token reaches none of tenant
/// B's resources, whatever the request says of a tenant besides (headers, query), and is not
/// taken for B's. (`isolation.rs` tries every route; here, what a client might add.)
#[tokio::test]
async fn a_token_of_one_tenant_gets_nothing_of_another_whatever_the_request_claims() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let admitted = crate::residents::admit(
        &app,
        &b,
        json!({"identity": crate::residents::identity("Tenantb", "Berthe", "1941-02-03")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let b_resident = admitted.json["id"].as_str().unwrap().to_owned();
    let b_tenant = b.id.to_string();
    let tenant_headers: [(&str, &str); 3] =
        [("x-tenant-id", &b_tenant), ("x-dui-tenant", &b_tenant), ("forwarded", "for=127.0.0.1;host=beta")];
    for path in [
        format!("/api/v1/residents/{b_resident}"),
        format!("/api/v1/residents/{b_resident}?tenant_id={b_tenant}"),
        format!("/api/v1/residents/{b_resident}/notes?tenant={b_tenant}"),
        format!("/api/v1/establishments/{}", b.establishments[0].id),
        format!("/api/v1/users/{}", b.admin.id),
    ] {
        let refused = app.request_with(reqwest::Method::GET, &path, Some(&a.admin.token), None, &tenant_headers).await;
        if path.contains('?') {
            // A query parameter the route does not take is refused outright, or ignored.
            assert!(matches!(refused.status, 400 | 404), "{path}: {}", refused.text);
            assert!(!refused.text.contains("Tenantb"), "{}", refused.text);
        } else {
            assert_eq!(refused.problem(404)["detail"], "No such resource.", "{path}");
        }
    }
    let me = app.request_with(reqwest::Method::GET, "/api/v1/me", Some(&a.admin.token), None, &tenant_headers).await;
    assert_eq!(me.json["tenant"]["id"], a.id.to_string(), "{}", me.text);
    let listed = app
        .request_with(
            reqwest::Method::GET,
            &format!("/api/v1/residents?tenant_id={b_tenant}"),
            Some(&a.admin.token),
            None,
            &tenant_headers,
        )
        .await;
    assert!(matches!(listed.status, 200 | 400), "{}", listed.text);
    assert!(!listed.text.contains(&b_resident));
    let listed =
        app.request_with(reqwest::Method::GET, "/api/v1/residents", Some(&a.admin.token), None, &tenant_headers).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(!listed.text.contains(&b_resident));
    // B still reads its own.
    assert_eq!(app.get(&format!("/api/v1/residents/{b_resident}"), &b.admin.token).await.status, 200);
}

/// The value of `dui_auth_refusals_total{reason="..."}` at `/metrics`.
async fn refusals_counted(app: &TestApp, reason: &str) -> u64 {
    let metrics = app.request(reqwest::Method::GET, "/metrics", None, None).await;
    let series = format!("dui_auth_refusals_total{{reason=\"{reason}\"}} ");
    metrics.text.lines().find_map(|l| l.strip_prefix(series.as_str())).map_or(0, |v| v.trim().parse().unwrap())
}

/// Every refused authentication is counted by reason at `/metrics` (what an operator alerts
/// on) and, within the recording rate, kept in `auth_failures` with what the token claimed —
/// never the token itself.
#[tokio::test]
async fn refused_authentications_are_counted_by_reason_and_recorded_without_the_token() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let valid = own_claims(tenant.id, tenant.admin.id);
    let now = chrono::Utc::now().timestamp();
    let token = own_sign(&app, &valid);
    let (head, signature) = token.rsplit_once('.').unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[0] ^= 0x01;
    let bad_signature = format!("{head}.{}", URL_SAFE_NO_PAD.encode(flipped));
    let expired = own_sign(
        &app,
        &with(with(with(valid.clone(), "exp", json!(now - 3600)), "iat", json!(now - 7200)), "nbf", json!(now - 7200)),
    );
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("../../etc/passwd".to_owned());
    let unknown_key = forge(&header, &valid, &EncodingKey::from_ed_pem(keys::SIGNING_KEY.as_bytes()).unwrap());
    let unknown_user = app.token(Subject::TenantUser { tenant: tenant.id, user: UserId::from_uuid(Uuid::now_v7()) });

    let before: Vec<u64> = {
        let mut counts = Vec::new();
        for reason in ["missing", "bad_signature", "expired", "unknown_key", "unknown_user", "malformed"] {
            counts.push(refusals_counted(&app, reason).await);
        }
        counts
    };
    assert_eq!(before, [0; 6], "nothing refused yet");
    app.request(reqwest::Method::GET, "/api/v1/me", None, None).await.problem(401);
    let refused = [&bad_signature, &bad_signature, &expired, &unknown_key, &unknown_user, &"not.a.jwt".to_owned()];
    for token in refused {
        app.get("/api/v1/me", token).await.problem(401);
    }
    let (_, operator) = app.operator().await;
    app.get("/platform/v1/tenants", &expired).await.problem(401);
    assert_eq!(app.get("/platform/v1/tenants", &operator).await.status, 200);
    for (reason, count) in [
        ("missing", 1),
        ("bad_signature", 2),
        ("expired", 2),
        ("unknown_key", 1),
        ("unknown_user", 1),
        ("malformed", 1),
    ] {
        assert_eq!(refusals_counted(&app, reason).await, count, "{reason}");
    }

    // Recorded with the check that failed and what was claimed; not the token.
    let owner = app.db.connect(&app.db.owner_url).await;
    let rows = owner
        .query("SELECT reason, claimed_tenant, row_to_json(f)::text FROM auth_failures f ORDER BY occurred_at", &[])
        .await
        .unwrap();
    let reasons: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        reasons,
        [
            "the token's signature is invalid",
            "the token's signature is invalid",
            "the token has expired",
            "the token's key is unknown to its issuer",
            "the token's user is unknown",
            "the token is not a well-formed JWT",
            "the token has expired",
        ],
        "the missing token is counted only"
    );
    assert_eq!(rows[0].get::<_, Option<uuid::Uuid>>(1), Some(tenant.id.as_uuid()));
    for row in &rows {
        let recorded: String = row.get(2);
        for token in [&bad_signature, &expired, &unknown_key, &unknown_user] {
            let signature = token.rsplit('.').next().unwrap();
            assert!(!recorded.contains(signature) && !recorded.contains(token.as_str()), "{recorded}");
        }
    }
}
