//! The drug referential (platform-level, shared by every tenant): its import, as the owner role,
//! and its reading, by the application role.
//!
//! An import replaces the referential in one transaction: the rows travel by binary `COPY` into
//! temporary tables, then each speciality listed is inserted or updated (and no longer
//! withdrawn), those not listed any more are marked withdrawn (kept: a prescription may name
//! them), and the presentations and compositions of the specialities listed are replaced by the
//! file's. The same files imported again (the same SHA-256 of their contents as the latest
//! import) change nothing.

use std::sync::LazyLock;
use std::time::Duration;

use dui_domain::alert::normalise_substance;
use dui_domain::drug::{
    ComponentNature, Composition, DrugDetail, DrugQuery, DrugSummary, Presentation, Speciality, active_substances,
};
use dui_domain::pagination::{Page, PageRequest};
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::args;
use crate::pool::{connect_spawned, pg_config, tls_for};
use crate::rows::{all, parse};
use crate::sql::{Sql, Stmt};
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// A referential to import: the records read from the files, and what identifies the files.
#[derive(Debug, Clone, Default)]
pub struct Referential {
    pub specialities: Vec<Speciality>,
    pub presentations: Vec<Presentation>,
    pub compositions: Vec<Composition>,
    /// SHA-256 (hex) of the three files' contents together.
    pub content_sha256: String,
    /// Each file's name, size, SHA-256 and modification time.
    pub files: serde_json::Value,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    /// None when the latest import had the same files: nothing was written.
    pub import_id: Option<i64>,
    pub specialities: u64,
    pub presentations: u64,
    pub compositions: u64,
    pub substances: u64,
    /// Specialities listed before and not by these files, now marked withdrawn.
    pub withdrawn: u64,
}

/// Serialises imports (the transaction's advisory lock).
const IMPORT_LOCK: i64 = 0x6472_7567_735f_696d; // "drugs_im"

const STAGE: &str = "\
    CREATE TEMPORARY TABLE stage_specialities (cis text, denomination text, search_name text, search_words text[], \
        form text, routes text[], authorisation_status text, procedure text, marketed boolean, authorised_on date, \
        bdm_status text, eu_number text, holders text[], enhanced_surveillance boolean) ON COMMIT DROP; \
    CREATE TEMPORARY TABLE stage_presentations (cip13 text, cis text, cip7 text, label text, status text, \
        marketed boolean, declared_on date, collectivity_approval boolean, reimbursement_rate text, price text) \
        ON COMMIT DROP; \
    CREATE TEMPORARY TABLE stage_compositions (cis text, line integer, element text, substance_code text, \
        substance text, normalised text, dosage text, dosage_reference text, nature text, link integer) ON COMMIT DROP";

const MERGE: &str = "\
    INSERT INTO drug_specialities (cis, denomination, search_name, search_words, form, routes, authorisation_status, \
        procedure, marketed, authorised_on, bdm_status, eu_number, holders, enhanced_surveillance, withdrawn, import_id) \
    SELECT cis, denomination, search_name, search_words, form, routes, authorisation_status, procedure, marketed, \
        authorised_on, bdm_status, eu_number, holders, enhanced_surveillance, false, $1 FROM stage_specialities \
    ON CONFLICT (cis) DO UPDATE SET denomination = excluded.denomination, search_name = excluded.search_name, \
        search_words = excluded.search_words, form = excluded.form, routes = excluded.routes, \
        authorisation_status = excluded.authorisation_status, procedure = excluded.procedure, \
        marketed = excluded.marketed, authorised_on = excluded.authorised_on, bdm_status = excluded.bdm_status, \
        eu_number = excluded.eu_number, holders = excluded.holders, \
        enhanced_surveillance = excluded.enhanced_surveillance, withdrawn = false, import_id = excluded.import_id";

const REPLACE: &str = "\
    DELETE FROM drug_presentations WHERE cis IN (SELECT cis FROM stage_specialities) \
        OR cip13 IN (SELECT cip13 FROM stage_presentations); \
    INSERT INTO drug_presentations (cip13, cis, cip7, label, status, marketed, declared_on, collectivity_approval, \
        reimbursement_rate, price) \
    SELECT cip13, cis, cip7, label, status, marketed, declared_on, collectivity_approval, reimbursement_rate, price \
        FROM stage_presentations; \
    DELETE FROM drug_compositions WHERE cis IN (SELECT cis FROM stage_specialities); \
    INSERT INTO drug_compositions (cis, line, element, substance_code, substance, dosage, dosage_reference, nature, link) \
    SELECT cis, line, element, substance_code, substance, dosage, dosage_reference, nature, link FROM stage_compositions; \
    INSERT INTO drug_substances (code, name, normalised) \
    SELECT DISTINCT ON (substance_code) substance_code, substance, normalised FROM stage_compositions \
        ORDER BY substance_code, nature, cis, line \
    ON CONFLICT (code) DO UPDATE SET name = excluded.name, normalised = excluded.normalised; \
    UPDATE drug_specialities d SET sort_key = r.n \
    FROM (SELECT cis, row_number() OVER (ORDER BY withdrawn, NOT marketed, search_name, cis) AS n \
          FROM drug_specialities) r \
    WHERE d.cis = r.cis AND d.sort_key IS DISTINCT FROM r.n";

fn db_error(error: tokio_postgres::Error) -> StoreError {
    StoreError::from(error)
}

/// Imports `referential` as the owner role (`owner_url`), in one transaction.
pub async fn import(
    owner_url: &str,
    ca_file: Option<&std::path::Path>,
    referential: &Referential,
) -> StoreResult<ImportOutcome> {
    let config = pg_config(owner_url, Duration::from_secs(10), None)?;
    let tls = tls_for(&config, ca_file)?;
    let (mut client, connection) = connect_spawned(&config, &tls).await?;
    let outcome = import_with(&mut client, referential).await;
    drop(client);
    let _ = connection.await;
    outcome
}

async fn import_with(client: &mut tokio_postgres::Client, referential: &Referential) -> StoreResult<ImportOutcome> {
    let tx = client.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK]).await.map_err(db_error)?;
    let substances = {
        let mut codes: Vec<&str> = referential.compositions.iter().map(|c| c.substance_code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        codes.len() as u64
    };
    let latest = tx
        .query_opt("SELECT content_sha256 FROM drug_imports ORDER BY id DESC LIMIT 1", &[])
        .await
        .map_err(db_error)?;
    let mut outcome = ImportOutcome {
        import_id: None,
        specialities: referential.specialities.len() as u64,
        presentations: referential.presentations.len() as u64,
        compositions: referential.compositions.len() as u64,
        substances,
        withdrawn: 0,
    };
    if latest.is_some_and(|row| row.get::<_, String>(0) == referential.content_sha256) {
        tx.rollback().await.map_err(db_error)?;
        return Ok(outcome);
    }
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    let id: i64 = tx
        .query_one(
            "INSERT INTO drug_imports (content_sha256, files, specialities, presentations, compositions, substances, rejected) \
             VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING id",
            &[
                &referential.content_sha256,
                &referential.files,
                &count(outcome.specialities),
                &count(outcome.presentations),
                &count(outcome.compositions),
                &count(outcome.substances),
            ],
        )
        .await
        .map_err(db_error)?
        .get(0);
    tx.batch_execute(STAGE).await.map_err(db_error)?;

    let sink = tx
        .copy_in(
            "COPY stage_specialities (cis, denomination, search_name, search_words, form, routes, authorisation_status, \
             procedure, marketed, authorised_on, bdm_status, eu_number, holders, enhanced_surveillance) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(db_error)?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT_ARRAY,
        Type::TEXT,
        Type::TEXT_ARRAY,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
        Type::DATE,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT_ARRAY,
        Type::BOOL,
    ];
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for s in &referential.specialities {
        let search_name = normalise_substance(&s.denomination);
        let words: Vec<String> = search_name.split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect();
        let row: [&(dyn ToSql + Sync); 14] = [
            &s.cis,
            &s.denomination,
            &search_name,
            &words,
            &s.form,
            &s.routes,
            &s.authorisation_status,
            &s.procedure,
            &s.marketed,
            &s.authorised_on,
            &s.bdm_status,
            &s.eu_number,
            &s.holders,
            &s.enhanced_surveillance,
        ];
        writer.as_mut().write(&row).await.map_err(db_error)?;
    }
    writer.finish().await.map_err(db_error)?;

    let sink = tx
        .copy_in(
            "COPY stage_presentations (cip13, cis, cip7, label, status, marketed, declared_on, collectivity_approval, \
             reimbursement_rate, price) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(db_error)?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
        Type::DATE,
        Type::BOOL,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for p in &referential.presentations {
        let row: [&(dyn ToSql + Sync); 10] = [
            &p.cip13,
            &p.cis,
            &p.cip7,
            &p.label,
            &p.status,
            &p.marketed,
            &p.declared_on,
            &p.collectivity_approval,
            &p.reimbursement_rate,
            &p.price,
        ];
        writer.as_mut().write(&row).await.map_err(db_error)?;
    }
    writer.finish().await.map_err(db_error)?;

    let sink = tx
        .copy_in(
            "COPY stage_compositions (cis, line, element, substance_code, substance, normalised, dosage, \
             dosage_reference, nature, link) FROM STDIN (FORMAT binary)",
        )
        .await
        .map_err(db_error)?;
    let types = [
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
    ];
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    let mut lines: std::collections::HashMap<&str, i32> = std::collections::HashMap::new();
    for c in &referential.compositions {
        let line = lines.entry(c.cis.as_str()).or_insert(0);
        *line += 1;
        let normalised = normalise_substance(&c.substance);
        let nature = c.nature.as_str();
        let row: [&(dyn ToSql + Sync); 10] = [
            &c.cis,
            &*line,
            &c.element,
            &c.substance_code,
            &c.substance,
            &normalised,
            &c.dosage,
            &c.dosage_reference,
            &nature,
            &c.link,
        ];
        writer.as_mut().write(&row).await.map_err(db_error)?;
    }
    writer.finish().await.map_err(db_error)?;

    tx.execute(MERGE, &[&id]).await.map_err(db_error)?;
    outcome.withdrawn = tx
        .execute("UPDATE drug_specialities SET withdrawn = true WHERE import_id <> $1 AND NOT withdrawn", &[&id])
        .await
        .map_err(db_error)?;
    tx.batch_execute(REPLACE).await.map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    outcome.import_id = Some(id);
    Ok(outcome)
}

const SUMMARY_COLUMNS: &str = "cis, denomination, form, routes, marketed, withdrawn, sort_key";

fn summary(row: &Row) -> StoreResult<DrugSummary> {
    Ok(DrugSummary {
        cis: row.try_get("cis")?,
        denomination: row.try_get("denomination")?,
        form: row.try_get("form")?,
        routes: row.try_get("routes")?,
        marketed: row.try_get("marketed")?,
        withdrawn: row.try_get("withdrawn")?,
        rank: row.try_get("sort_key")?,
    })
}

static SEARCH: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM drug_specialities \
         WHERE (:after::bigint IS NULL OR sort_key > :after) \
           AND (:cis::text IS NULL OR cis = :cis) \
           AND (:cip7::text IS NULL OR cis IN (SELECT p.cis FROM drug_presentations p WHERE p.cip7 = :cip7)) \
           AND (:cip13::text IS NULL OR cis IN (SELECT p.cis FROM drug_presentations p WHERE p.cip13 = :cip13)) \
           AND (:prefix::text IS NULL OR search_name LIKE :prefix OR search_words @> :words::text[]) \
         ORDER BY sort_key LIMIT :limit"
    ))
});

/// The specialities that `query` finds, listed before withdrawn, marketed first, then by name.
/// A page continues after a rank, carried in the cursor as a number.
pub async fn search(tx: Tx<'_>, query: &DrugQuery, page: PageRequest) -> StoreResult<Page<DrugSummary>> {
    let after = page.after.map(|a| i64::try_from(a.as_u128()).unwrap_or(i64::MAX));
    let limit = page.fetch_limit();
    let none = None::<String>;
    let (mut cis, mut cip7, mut cip13, mut prefix) = (none.clone(), none.clone(), none.clone(), none);
    let mut words: Vec<String> = Vec::new();
    match query {
        DrugQuery::All => {}
        DrugQuery::Cis(code) => cis = Some(code.clone()),
        DrugQuery::Cip7(code) => cip7 = Some(code.clone()),
        DrugQuery::Cip13(code) => cip13 = Some(code.clone()),
        DrugQuery::Name(name) => {
            // The normalised text has only letters, digits and single spaces: nothing to escape.
            prefix = Some(format!("{name}%"));
            words = name.split(' ').map(str::to_owned).collect();
        }
    }
    let rows = tx
        .finish(
            &SEARCH,
            &args! { after: &after, cis: &cis, cip7: &cip7, cip13: &cip13, prefix: &prefix, words: &words, limit: &limit },
        )
        .await?;
    Ok(Page::from_rows(all(&rows, summary)?, page, |s| uuid::Uuid::from_u128(s.rank.max(0) as u128)))
}

static SPECIALITY: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT cis, denomination, form, routes, authorisation_status, procedure, marketed, authorised_on, bdm_status, \
                eu_number, holders, enhanced_surveillance, withdrawn \
         FROM drug_specialities WHERE cis = :cis",
    )
});

static PRESENTATIONS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT cis, cip7, cip13, label, status, marketed, declared_on, collectivity_approval, reimbursement_rate, price \
         FROM drug_presentations WHERE cis = :cis ORDER BY cip13",
    )
});

static COMPOSITIONS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT cis, element, substance_code, substance, dosage, dosage_reference, nature, link \
         FROM drug_compositions WHERE cis = :cis ORDER BY line",
    )
});

fn speciality(row: &Row) -> StoreResult<Speciality> {
    Ok(Speciality {
        cis: row.try_get("cis")?,
        denomination: row.try_get("denomination")?,
        form: row.try_get("form")?,
        routes: row.try_get("routes")?,
        authorisation_status: row.try_get("authorisation_status")?,
        procedure: row.try_get("procedure")?,
        marketed: row.try_get("marketed")?,
        authorised_on: row.try_get("authorised_on")?,
        bdm_status: row.try_get("bdm_status")?,
        eu_number: row.try_get("eu_number")?,
        holders: row.try_get("holders")?,
        enhanced_surveillance: row.try_get("enhanced_surveillance")?,
    })
}

fn presentation(row: &Row) -> StoreResult<Presentation> {
    Ok(Presentation {
        cis: row.try_get("cis")?,
        cip7: row.try_get("cip7")?,
        cip13: row.try_get("cip13")?,
        label: row.try_get("label")?,
        status: row.try_get("status")?,
        marketed: row.try_get("marketed")?,
        declared_on: row.try_get("declared_on")?,
        collectivity_approval: row.try_get("collectivity_approval")?,
        reimbursement_rate: row.try_get("reimbursement_rate")?,
        price: row.try_get("price")?,
    })
}

fn composition(row: &Row) -> StoreResult<Composition> {
    Ok(Composition {
        cis: row.try_get("cis")?,
        element: row.try_get("element")?,
        substance_code: row.try_get("substance_code")?,
        substance: row.try_get("substance")?,
        dosage: row.try_get("dosage")?,
        dosage_reference: row.try_get("dosage_reference")?,
        nature: parse(row, "nature", ComponentNature::parse)?,
        link: row.try_get("link")?,
    })
}

/// One speciality with its presentations and composition; none when the CIS is unknown.
pub async fn get(mut tx: Tx<'_>, cis: &str) -> StoreResult<Option<DrugDetail>> {
    let Some(row) = tx.query_opt(&SPECIALITY, &args! { cis: &cis }).await? else {
        tx.commit().await?;
        return Ok(None);
    };
    let withdrawn: bool = row.try_get("withdrawn")?;
    let speciality = speciality(&row)?;
    let presentations = all(&tx.query(&PRESENTATIONS, &args! { cis: &cis }).await?, presentation)?;
    let compositions = all(&tx.finish(&COMPOSITIONS, &args! { cis: &cis }).await?, composition)?;
    let active_substances = active_substances(&compositions);
    Ok(Some(DrugDetail { speciality, withdrawn, presentations, compositions, active_substances }))
}

static PRESCRIBED: Stmt =
    LazyLock::new(|| Sql::new("SELECT cis, denomination FROM drug_specialities WHERE cis = ANY(:cis)"));

static PRESCRIBED_COMPOSITIONS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT cis, element, substance_code, substance, dosage, dosage_reference, nature, link \
         FROM drug_compositions WHERE cis = ANY(:cis) ORDER BY cis, line",
    )
});

/// The specialities as a prescription keeps them (their denomination and active substances
/// now), one for each of `cis` in order, within an operation; none for a CIS the referential
/// does not know. Two statements, however many lines.
pub async fn prescribed(
    tx: &mut Tx<'_>,
    cis: &[String],
) -> StoreResult<Vec<Option<dui_domain::prescription::PrescribedDrug>>> {
    let specialities = tx.query(&PRESCRIBED, &args! { cis: &cis }).await?;
    let compositions = all(&tx.query(&PRESCRIBED_COMPOSITIONS, &args! { cis: &cis }).await?, composition)?;
    let mut found = std::collections::HashMap::with_capacity(specialities.len());
    for row in &specialities {
        let code: String = row.try_get("cis")?;
        let own: Vec<Composition> = compositions.iter().filter(|c| c.cis == code).cloned().collect();
        let drug = dui_domain::prescription::PrescribedDrug {
            cis: code.clone(),
            denomination: row.try_get("denomination")?,
            active_substances: active_substances(&own),
        };
        found.insert(code, drug);
    }
    Ok(cis.iter().map(|c| found.get(c).cloned()).collect())
}
