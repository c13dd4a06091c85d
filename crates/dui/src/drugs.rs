//! `dui drugs import --dir DIR`: the drug referential from the files of the national public drug
//! database (`CIS_bdpm.txt`, `CIS_CIP_bdpm.txt`, `CIS_COMPO_bdpm.txt`), imported as the owner
//! role in one transaction.
//!
//! Lines the parser sets aside, and presentations or compositions of a speciality the first file
//! does not list (or listed twice), are counted and reported with their file and line; the rest
//! is imported. A file missing from the folder stops the import before anything is written.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use dui_exchange::bdpm::{self, Parsed, Rejected};
use dui_storage::drugs::{ImportOutcome, Referential};
use sha2::{Digest, Sha256};

/// The three files, by name.
pub const SPECIALITIES: &str = "CIS_bdpm.txt";
pub const PRESENTATIONS: &str = "CIS_CIP_bdpm.txt";
pub const COMPOSITIONS: &str = "CIS_COMPO_bdpm.txt";

/// A line not imported: its file, its number, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    pub file: &'static str,
    pub line: usize,
    pub reason: String,
}

/// What an import read and did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub outcome: ImportOutcome,
    pub rejected: Vec<RejectedLine>,
    /// Files read as Windows-1252 (not valid UTF-8).
    pub windows_1252: Vec<&'static str>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(dir: &Path, name: &'static str) -> anyhow::Result<(Vec<u8>, serde_json::Value)> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let modified = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339());
    let about = serde_json::json!({
        "name": name, "size": bytes.len(), "sha256": hex(&Sha256::digest(&bytes)), "modified": modified,
    });
    Ok((bytes, about))
}

fn keep<T>(
    file: &'static str,
    parsed: Parsed<T>,
    rejected: &mut Vec<RejectedLine>,
    windows_1252: &mut Vec<&'static str>,
) -> Vec<(usize, T)> {
    if parsed.windows_1252 {
        windows_1252.push(file);
    }
    rejected.extend(parsed.rejected.into_iter().map(|Rejected { line, reason }| RejectedLine { file, line, reason }));
    // The rows in file order, each with its index among the rows kept: the caller turns it into
    // a line number for the checks across files.
    parsed.rows.into_iter().enumerate().collect()
}

/// Reads the three files of `dir`, checks them against each other, and imports them.
pub async fn import_dir(owner_url: &str, ca_file: Option<&Path>, dir: &Path) -> anyhow::Result<ImportReport> {
    let (specialities, about_s) = read(dir, SPECIALITIES)?;
    let (presentations, about_p) = read(dir, PRESENTATIONS)?;
    let (compositions, about_c) = read(dir, COMPOSITIONS)?;
    let mut hasher = Sha256::new();
    for bytes in [&specialities, &presentations, &compositions] {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    let content_sha256 = hex(&hasher.finalize());

    let (mut rejected, mut windows_1252) = (Vec::new(), Vec::new());
    let lines = |bytes: &[u8]| line_numbers(bytes);
    let parsed_s = bdpm::specialities(&specialities);
    let numbers_s = accepted_lines(&lines(&specialities), &parsed_s.rejected);
    let parsed_p = bdpm::presentations(&presentations);
    let numbers_p = accepted_lines(&lines(&presentations), &parsed_p.rejected);
    let parsed_c = bdpm::compositions(&compositions);
    let numbers_c = accepted_lines(&lines(&compositions), &parsed_c.rejected);

    let mut known = HashSet::new();
    let mut referential = Referential { content_sha256, ..Default::default() };
    for (index, s) in keep(SPECIALITIES, parsed_s, &mut rejected, &mut windows_1252) {
        if known.insert(s.cis.clone()) {
            referential.specialities.push(s);
        } else {
            let line = numbers_s.get(index).copied().unwrap_or(0);
            rejected.push(RejectedLine { file: SPECIALITIES, line, reason: format!("CIS {} listed twice", s.cis) });
        }
    }
    let mut cip13s = HashSet::new();
    for (index, p) in keep(PRESENTATIONS, parsed_p, &mut rejected, &mut windows_1252) {
        let line = numbers_p.get(index).copied().unwrap_or(0);
        if !known.contains(&p.cis) {
            rejected.push(RejectedLine {
                file: PRESENTATIONS,
                line,
                reason: format!("CIS {} is not a speciality", p.cis),
            });
        } else if !cip13s.insert(p.cip13.clone()) {
            rejected.push(RejectedLine {
                file: PRESENTATIONS,
                line,
                reason: format!("CIP13 {} listed twice", p.cip13),
            });
        } else {
            referential.presentations.push(p);
        }
    }
    for (index, c) in keep(COMPOSITIONS, parsed_c, &mut rejected, &mut windows_1252) {
        if known.contains(&c.cis) {
            referential.compositions.push(c);
        } else {
            let line = numbers_c.get(index).copied().unwrap_or(0);
            rejected.push(RejectedLine {
                file: COMPOSITIONS,
                line,
                reason: format!("CIS {} is not a speciality", c.cis),
            });
        }
    }
    rejected.sort_by(|a, b| (a.file, a.line).cmp(&(b.file, b.line)));
    referential.files = serde_json::json!([about_s, about_p, about_c]);
    let outcome = dui_storage::drugs::import(owner_url, ca_file, &referential).await?;
    Ok(ImportReport { outcome, rejected, windows_1252 })
}

/// The numbers of the lines that are not blank, as the parser counts them.
fn line_numbers(bytes: &[u8]) -> Vec<usize> {
    let (text, _) = bdpm::decode(bytes);
    text.split('\n').enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, _)| i + 1).collect()
}

/// The numbers of the lines the parser kept, in order.
fn accepted_lines(lines: &[usize], rejected: &[Rejected]) -> Vec<usize> {
    let set: HashSet<usize> = rejected.iter().map(|r| r.line).collect();
    lines.iter().copied().filter(|n| !set.contains(n)).collect()
}

/// Prints the report.
pub fn print(report: &ImportReport) {
    let o = &report.outcome;
    match o.import_id {
        Some(id) => println!("import {id}"),
        None => println!("these files are the latest import's: nothing changed"),
    }
    println!("specialities: {}", o.specialities);
    println!("presentations: {}", o.presentations);
    println!("compositions: {}", o.compositions);
    println!("substances: {}", o.substances);
    println!("withdrawn (no longer listed): {}", o.withdrawn);
    for file in &report.windows_1252 {
        println!("{file}: read as Windows-1252");
    }
    println!("rejected lines: {}", report.rejected.len());
    for r in &report.rejected {
        println!("  {}:{}: {}", r.file, r.line, r.reason);
    }
}
