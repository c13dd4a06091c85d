//! The drug referential: the import of the national public drug database's files (counts, the
//! lines set aside and why, a re-import that changes nothing, specialities no longer listed kept
//! as withdrawn), the search by name with or without accents and by code, its pages, a
//! speciality's detail, the same referential for every tenant, and a drug checked against a
//! person's allergies.

use std::path::{Path, PathBuf};

use dui_domain::people::Role;
use dui_testkit::TestApp;
use serde_json::{Value, json};

use crate::residents::{admit, identity};

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bdpm")
}

/// Imports the fixture into the test's database, as `dui drugs import` does.
pub async fn import_fixture(app: &TestApp) -> dui::drugs::ImportReport {
    dui::drugs::import_dir(&app.db.owner_url, None, &fixture_dir()).await.expect("the fixture imports")
}

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|d| d["denomination"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_fixture_is_imported_with_its_bad_lines_reported_and_a_reimport_changes_nothing() {
    let app = TestApp::spawn().await;
    let report = import_fixture(&app).await;
    let o = &report.outcome;
    assert!(o.import_id.is_some());
    assert_eq!((o.specialities, o.presentations, o.compositions, o.substances), (15, 10, 26, 16));
    assert_eq!(o.withdrawn, 0);
    assert_eq!(report.windows_1252, ["CIS_bdpm.txt"]);
    let rejected: Vec<(&str, usize)> = report.rejected.iter().map(|r| (r.file, r.line)).collect();
    assert_eq!(
        rejected,
        [
            ("CIS_CIP_bdpm.txt", 11),
            ("CIS_CIP_bdpm.txt", 12),
            ("CIS_COMPO_bdpm.txt", 27),
            ("CIS_bdpm.txt", 15),
            ("CIS_bdpm.txt", 16)
        ]
    );
    let reasons: Vec<&str> = report.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert!(reasons[0].contains("CIP13"), "{reasons:?}");
    assert!(reasons[1].contains("99999999 is not a speciality"), "{reasons:?}");
    assert!(reasons[2].contains("SA or FT"), "{reasons:?}");
    assert!(reasons[3].contains("CIS"), "{reasons:?}");
    assert!(reasons[4].contains("date"), "{reasons:?}");

    let owner = app.db.connect(&app.db.owner_url).await;
    let count = |table: &'static str| {
        let owner = &owner;
        async move { owner.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get::<_, i64>(0) }
    };
    let before = (count("drug_specialities").await, count("drug_compositions").await, count("drug_imports").await);
    assert_eq!(before, (15, 26, 1));
    // Windows-1252 read as such: the accents are there.
    let name: String =
        owner.query_one("SELECT denomination FROM drug_specialities WHERE cis = '67000006'", &[]).await.unwrap().get(0);
    assert!(name.starts_with("PÉNICILLINE G PANPHARMA"), "{name}");

    // The same files again: nothing written.
    let again = import_fixture(&app).await;
    assert_eq!(again.outcome.import_id, None);
    assert_eq!(again.outcome.specialities, 15);
    let after = (count("drug_specialities").await, count("drug_compositions").await, count("drug_imports").await);
    assert_eq!(after, before);

    // A later file without Spasfon and with Doliprane 500 no longer marketed: Spasfon is kept,
    // withdrawn, listed last; its composition stays.
    let dir = tempfile::tempdir().unwrap();
    for file in ["CIS_CIP_bdpm.txt", "CIS_COMPO_bdpm.txt"] {
        std::fs::copy(fixture_dir().join(file), dir.path().join(file)).unwrap();
    }
    let specialities = std::fs::read(fixture_dir().join("CIS_bdpm.txt")).unwrap();
    let kept: Vec<&[u8]> = specialities.split(|b| *b == b'\n').filter(|line| !line.starts_with(b"69000009")).collect();
    let mut changed = kept.join(&b'\n');
    let marketed = b"\tCommercialis\xe9e\t09/07/1998";
    let at = changed.windows(marketed.len()).position(|w| w == marketed).unwrap();
    changed.splice(at..at + marketed.len(), b"\tNon commercialis\xe9e\t09/07/1998".iter().copied());
    std::fs::write(dir.path().join("CIS_bdpm.txt"), changed).unwrap();
    let later = dui::drugs::import_dir(&app.db.owner_url, None, dir.path()).await.unwrap();
    assert!(later.outcome.import_id.is_some());
    assert_eq!((later.outcome.specialities, later.outcome.withdrawn), (14, 1));
    let row = owner
        .query_one("SELECT withdrawn, (SELECT count(*) FROM drug_compositions WHERE cis = '69000009') FROM drug_specialities WHERE cis = '69000009'", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, i64>(1)), (true, 1));
    assert_eq!(count("drug_imports").await, 2);

    let tenant = app.tenant("Alpha").await;
    let all = app.get("/api/v1/drugs?limit=200", &tenant.admin.token).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let items = all.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 15);
    assert_eq!(items.last().unwrap()["cis"], "69000009", "withdrawn last");
    assert_eq!(items.last().unwrap()["withdrawn"], true);
    let doliprane = items.iter().position(|d| d["cis"] == "60234100").unwrap();
    let first_unmarketed = items.iter().position(|d| d["marketed"] == false).unwrap();
    assert!(doliprane >= first_unmarketed, "marketed ones first: {}", all.text);
}

#[tokio::test]
async fn the_search_finds_names_with_or_without_accents_and_codes_page_by_page() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let search = |q: &str| {
        let (app, token) = (&app, assistant.token.clone());
        let path = format!("/api/v1/drugs?q={}", urlencode(q));
        async move {
            let response = app.get(&path, &token).await;
            assert_eq!(response.status, 200, "{}", response.text);
            response.json
        }
    };

    // A prefix of the name, any case; marketed ones first.
    assert_eq!(names(&search("doli").await), ["DOLIPRANE 1000 mg, comprimé", "DOLIPRANE 500 mg, comprimé"]);
    // With or without accents, as a prefix or a whole word: the non-marketed one last.
    let penicillin = names(&search("pénicilline").await);
    assert_eq!(penicillin, ["PÉNICILLINE G PANPHARMA 1 000 000 UI, poudre pour solution injectable"]);
    assert_eq!(names(&search("PENICILLINE g").await), penicillin);
    let kardegic = names(&search("kardegic").await);
    assert_eq!(kardegic, ["KARDÉGIC 75 mg, poudre pour solution buvable en sachet"]);
    // Whole words anywhere in the name.
    let clavulanic = names(&search("acide clavulanique").await);
    assert_eq!(clavulanic, ["AMOXICILLINE/ACIDE CLAVULANIQUE SANDOZ 500 mg/62,5 mg, comprimé pelliculé"]);
    let amoxicillin = search("amoxicilline").await;
    assert_eq!(amoxicillin["items"].as_array().unwrap().len(), 2, "{amoxicillin}");
    assert!(names(&search("zzz").await).is_empty());
    // By code: CIS, CIP7, CIP13 (spaces allowed).
    assert_eq!(search("68585615").await["items"][0]["cis"], "68585615");
    assert_eq!(search("3595583").await["items"][0]["cis"], "60234100");
    assert_eq!(search("3400935955838").await["items"][0]["cis"], "60234100");
    assert_eq!(search("3400 9359 5583 8").await["items"][0]["cis"], "60234100");
    assert!(names(&search("3400000000000").await).is_empty());

    // Page by page: the pages together are the whole list, each once, in order.
    let whole = app.get("/api/v1/drugs?limit=200", &assistant.token).await.json;
    let whole: Vec<String> =
        whole["items"].as_array().unwrap().iter().map(|d| d["cis"].as_str().unwrap().to_owned()).collect();
    assert_eq!(whole.len(), 15);
    let mut paged = Vec::new();
    let mut path = "/api/v1/drugs?limit=4".to_owned();
    loop {
        let page = app.get(&path, &assistant.token).await;
        assert_eq!(page.status, 200, "{}", page.text);
        paged.extend(page.json["items"].as_array().unwrap().iter().map(|d| d["cis"].as_str().unwrap().to_owned()));
        match page.json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/drugs?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, whole);
    // Marketed ones first.
    let marketed: Vec<bool> = app.get("/api/v1/drugs?limit=200", &assistant.token).await.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["marketed"].as_bool().unwrap())
        .collect();
    assert!(marketed.windows(2).all(|w| w[0] || !w[1]), "{marketed:?}");

    // Bad input names the field.
    let long = app.get(&format!("/api/v1/drugs?q={}", "a".repeat(201)), &assistant.token).await;
    assert_eq!(long.problem(422)["errors"][0]["field"], "q");
    // A blank box, or one with nothing but punctuation, lists every speciality, as no `q` does.
    let every = app.get("/api/v1/drugs?limit=200", &assistant.token).await;
    for blank in ["", "--", "%20"] {
        let listed = app.get(&format!("/api/v1/drugs?limit=200&q={blank}"), &assistant.token).await;
        assert_eq!((listed.status, &listed.json), (200, &every.json), "q={blank:?}");
    }
    assert_eq!(app.get("/api/v1/drugs?limit=0", &assistant.token).await.status, 422);
    assert_eq!(app.get("/api/v1/drugs?cursor=nope", &assistant.token).await.status, 400);
    // Without a token: none of it.
    assert_eq!(app.request_with(reqwest::Method::GET, "/api/v1/drugs", None, None, &[]).await.status, 401);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_speciality_shows_its_presentations_composition_and_displayed_substances() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let augmentin = app.get("/api/v1/drugs/68585615", token).await;
    assert_eq!(augmentin.status, 200, "{}", augmentin.text);
    let d = &augmentin.json;
    assert_eq!(d["denomination"], "AUGMENTIN 1 g/125 mg ADULTES, poudre pour suspension buvable en sachet-dose");
    assert_eq!(d["marketed"], true);
    assert_eq!(d["bdm_status"], "Warning disponibilité");
    assert_eq!(d["authorised_on"], "1997-12-31");
    assert_eq!(d["presentations"][0]["cip13"], "3400933394745");
    assert_eq!(d["presentations"][0]["reimbursement_rate"], "65 %");
    assert_eq!(d["compositions"].as_array().unwrap().len(), 4, "SA and FT both kept");
    let shown: Vec<(&str, &str)> = d["active_substances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["dosage"].as_str().unwrap()))
        .collect();
    assert_eq!(shown, [("AMOXICILLINE", "1 g"), ("ACIDE CLAVULANIQUE", "125 mg")]);
    assert_eq!(d["active_substances"][0]["active_substance"], "AMOXICILLINE TRIHYDRATÉE");

    let eliquis = app.get("/api/v1/drugs/64000003", token).await.json;
    assert_eq!(
        (eliquis["eu_number"].clone(), eliquis["enhanced_surveillance"].clone()),
        (json!("EU/1/11/691/006"), json!(true))
    );
    let ixprim = app.get("/api/v1/drugs/65000004", token).await.json;
    assert_eq!(ixprim["active_substances"].as_array().unwrap().len(), 2);

    assert_eq!(app.get("/api/v1/drugs/12345678", token).await.status, 404);
    assert_eq!(app.get("/api/v1/drugs/1234", token).await.problem(422)["errors"][0]["field"], "cis");
}

#[tokio::test]
async fn the_referential_is_the_same_for_every_tenant() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let (a, b) = (app.tenant("Alpha").await, app.tenant("Beta").await);
    for path in ["/api/v1/drugs?limit=200", "/api/v1/drugs?q=amoxicilline", "/api/v1/drugs/68585615"] {
        let (seen_a, seen_b) = (app.get(path, &a.admin.token).await, app.get(path, &b.admin.token).await);
        assert_eq!(seen_a.status, 200, "{}", seen_a.text);
        assert_eq!(seen_a.json, seen_b.json, "{path}");
        // Nothing of either tenant in it.
        for tenant in [&a, &b] {
            assert!(!seen_a.text.contains(&tenant.id.to_string()), "{path}");
        }
    }
    // The application role reads the referential and cannot change it.
    let app_role = app.db.connect(&app.db.app_url).await;
    let count: i64 = app_role.query_one("SELECT count(*) FROM drug_specialities", &[]).await.unwrap().get(0);
    assert_eq!(count, 15);
    for write in [
        "UPDATE drug_specialities SET denomination = 'X'",
        "DELETE FROM drug_compositions",
        "INSERT INTO drug_substances (code, name, normalised) VALUES ('1', 'X', 'x')",
    ] {
        assert!(app_role.execute(write, &[]).await.is_err(), "{write}");
    }
}

#[tokio::test]
async fn a_drug_is_checked_against_the_persons_allergies() {
    let app = TestApp::spawn().await;
    import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let admitted = admit(&app, &tenant, json!({"identity": identity("Allergique", "Jeanne", "1935-05-05")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let check = |cis: &str| {
        let (app, path, token) = (&app, format!("{record}/drugs/{cis}/allergy-check"), nurse.token.clone());
        async move { app.get(&path, &token).await }
    };
    // No allergy: nothing matches.
    let none = check("68585615").await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.json["matches"], json!([]));

    for substance in ["Amoxicilline", "Pénicilline"] {
        let allergy = app
            .post(
                &format!("{record}/allergies"),
                &nurse.token,
                json!({"kind": "allergy", "substance": substance, "severity": "severe", "source": "medical_record"}),
            )
            .await;
        assert_eq!(allergy.status, 201, "{}", allergy.text);
    }
    // Augmentin: amoxicillin, through its therapeutic fraction.
    let augmentin = check("68585615").await;
    let matches = augmentin.json["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{}", augmentin.text);
    assert_eq!(
        (matches[0]["substance"].as_str(), matches[0]["allergy_substance"].as_str()),
        (Some("AMOXICILLINE"), Some("Amoxicilline"))
    );
    // Extencilline: "Pénicilline" in "PÉNICILLINE G".
    let extencilline = check("62000001").await;
    assert_eq!(extencilline.json["matches"][0]["substance"], "PÉNICILLINE G", "{}", extencilline.text);
    // Doliprane: nothing.
    assert_eq!(check("60234100").await.json["matches"], json!([]));
    // Unknown drug, malformed CIS.
    assert_eq!(check("12345678").await.status, 404);
    assert_eq!(check("123").await.problem(422)["errors"][0]["field"], "cis");
    // Outside the care team: the person is absent.
    let other = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    let refused = app.get(&format!("{record}/drugs/68585615/allergy-check"), &other.token).await;
    assert_eq!(refused.status, 404);
}
