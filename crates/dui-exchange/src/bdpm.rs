//! The text files of the national public drug database (base de données publique des
//! médicaments, BDPM): `CIS_bdpm.txt` (specialities), `CIS_CIP_bdpm.txt` (presentations) and
//! `CIS_COMPO_bdpm.txt` (compositions).
//!
//! Each is tab-separated, one record a line, with no header; older files are in Windows-1252,
//! newer ones in UTF-8: a file that is valid UTF-8 is read as such, any other as Windows-1252.
//! A line with fewer or more trailing fields than documented is read as far as it goes; a line
//! whose key fields (the codes, the name) are missing or malformed is set aside with its number
//! and the reason, and the others are read: one bad line never stops an import.

use chrono::NaiveDate;
use dui_domain::drug::{ComponentNature, Composition, Presentation, Speciality, is_cip7, is_cip13, is_cis};

/// The longest field kept, in characters: the published ones are far shorter.
pub const MAX_FIELD: usize = 2000;

/// A line set aside, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based.
    pub line: usize,
    pub reason: String,
}

/// The records of one file, and the lines set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub rejected: Vec<Rejected>,
    /// Whether the file was read as Windows-1252 (it was not valid UTF-8).
    pub windows_1252: bool,
}

/// The characters Windows-1252 puts at 0x80–0x9F (Latin-1 has control characters there); the
/// five bytes it leaves undefined are read as the replacement character.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž', '\u{FFFD}', '\u{FFFD}',
    '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{FFFD}', 'ž', 'Ÿ',
];

/// The text of a file: UTF-8 (a byte-order mark dropped) when it is valid UTF-8, else
/// Windows-1252. The flag says which.
pub fn decode(bytes: &[u8]) -> (String, bool) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => {
            let text = bytes
                .iter()
                .map(|&b| match b {
                    0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
                    _ => char::from(b),
                })
                .collect();
            (text, true)
        }
    }
}

fn lines(bytes: &[u8]) -> (Vec<(usize, Vec<String>)>, bool) {
    let (text, windows_1252) = decode(bytes);
    let lines = text
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| (number, line.split('\t').map(|f| f.trim().to_owned()).collect()))
        .collect();
    (lines, windows_1252)
}

fn parse_all<T>(bytes: &[u8], parse: impl Fn(&[String]) -> Result<T, String>) -> Parsed<T> {
    let (lines, windows_1252) = lines(bytes);
    let mut parsed = Parsed { rows: Vec::new(), rejected: Vec::new(), windows_1252 };
    for (line, fields) in lines {
        match parse(&fields) {
            Ok(row) => parsed.rows.push(row),
            Err(reason) => parsed.rejected.push(Rejected { line, reason }),
        }
    }
    parsed
}

fn field(fields: &[String], index: usize) -> &str {
    fields.get(index).map(String::as_str).unwrap_or("")
}

/// A text field: empty is none; longer than [`MAX_FIELD`] or with control characters refused.
fn text(fields: &[String], index: usize, name: &str) -> Result<Option<String>, String> {
    let value = field(fields, index);
    if value.chars().count() > MAX_FIELD {
        return Err(format!("{name} is longer than {MAX_FIELD} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{name} has control characters"));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

fn required(fields: &[String], index: usize, name: &str) -> Result<String, String> {
    text(fields, index, name)?.ok_or_else(|| format!("{name} is missing"))
}

fn code(fields: &[String], index: usize, name: &str, valid: fn(&str) -> bool, digits: u8) -> Result<String, String> {
    let value = field(fields, index);
    if valid(value) { Ok(value.to_owned()) } else { Err(format!("{name} must be {digits} digits, not {value:?}")) }
}

/// A date as dd/mm/yyyy; empty is none.
fn date(fields: &[String], index: usize, name: &str) -> Result<Option<NaiveDate>, String> {
    let value = field(fields, index);
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%d/%m/%Y")
        .map(Some)
        .map_err(|_| format!("{name} must be dd/mm/yyyy, not {value:?}"))
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| v.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// `CIS_bdpm.txt`.
pub fn specialities(bytes: &[u8]) -> Parsed<Speciality> {
    parse_all(bytes, |f| {
        let cis = code(f, 0, "CIS", is_cis, 8)?;
        let marketing = text(f, 6, "marketing status")?.unwrap_or_default();
        Ok(Speciality {
            cis,
            denomination: required(f, 1, "denomination")?,
            form: text(f, 2, "form")?.unwrap_or_default(),
            routes: list(text(f, 3, "routes")?),
            authorisation_status: text(f, 4, "authorisation status")?.unwrap_or_default(),
            procedure: text(f, 5, "procedure")?.unwrap_or_default(),
            marketed: marketing.eq_ignore_ascii_case("Commercialisée") || marketing == "Commercialisee",
            authorised_on: date(f, 7, "authorisation date")?,
            bdm_status: text(f, 8, "BdM status")?,
            eu_number: text(f, 9, "EU number")?,
            holders: list(text(f, 10, "holders")?),
            enhanced_surveillance: field(f, 11).eq_ignore_ascii_case("oui"),
        })
    })
}

/// `CIS_CIP_bdpm.txt`.
pub fn presentations(bytes: &[u8]) -> Parsed<Presentation> {
    parse_all(bytes, |f| {
        let cis = code(f, 0, "CIS", is_cis, 8)?;
        let cip7 = code(f, 1, "CIP7", is_cip7, 7)?;
        let cip13 = code(f, 6, "CIP13", is_cip13, 13)?;
        let marketing = text(f, 4, "marketing status")?.unwrap_or_default();
        let collectivity = match field(f, 7).to_lowercase().as_str() {
            "oui" => Some(true),
            "non" => Some(false),
            _ => None,
        };
        Ok(Presentation {
            cis,
            cip7,
            cip13,
            label: required(f, 2, "label")?,
            status: text(f, 3, "status")?.unwrap_or_default(),
            marketed: marketing.starts_with("Déclaration de commercialisation")
                && !marketing.contains("arrêt")
                && !marketing.contains("Arrêt"),
            declared_on: date(f, 5, "declaration date")?,
            collectivity_approval: collectivity,
            reimbursement_rate: text(f, 8, "reimbursement rate")?,
            price: text(f, 9, "price")?,
        })
    })
}

/// `CIS_COMPO_bdpm.txt`.
pub fn compositions(bytes: &[u8]) -> Parsed<Composition> {
    parse_all(bytes, |f| {
        let cis = code(f, 0, "CIS", is_cis, 8)?;
        let substance_code = field(f, 2);
        if substance_code.is_empty() || substance_code.len() > 12 || !substance_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("substance code must be digits, not {substance_code:?}"));
        }
        let nature = ComponentNature::parse(field(f, 6))
            .ok_or_else(|| format!("nature must be SA or FT, not {:?}", field(f, 6)))?;
        let link = match field(f, 7) {
            "" => None,
            value => Some(value.parse::<i32>().map_err(|_| format!("link number must be a number, not {value:?}"))?),
        };
        Ok(Composition {
            cis,
            element: text(f, 1, "element")?.unwrap_or_default(),
            substance_code: substance_code.to_owned(),
            substance: required(f, 3, "substance")?,
            dosage: text(f, 4, "dosage")?,
            dosage_reference: text(f, 5, "dosage reference")?,
            nature,
            link,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOLIPRANE: &str = "60234100\tDOLIPRANE 500 mg, comprimé\tcomprimé\torale\tAutorisation active\tProcédure nationale\tCommercialisée\t09/07/1998\t\t\tOPELLA HEALTHCARE FRANCE\tNon\n";

    #[test]
    fn a_speciality_is_read_with_its_fields() {
        let parsed = specialities(DOLIPRANE.as_bytes());
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert!(!parsed.windows_1252);
        let s = &parsed.rows[0];
        assert_eq!(s.cis, "60234100");
        assert_eq!(s.denomination, "DOLIPRANE 500 mg, comprimé");
        assert_eq!(s.routes, ["orale"]);
        assert!(s.marketed);
        assert_eq!(s.authorised_on, NaiveDate::from_ymd_opt(1998, 7, 9));
        assert_eq!(s.holders, ["OPELLA HEALTHCARE FRANCE"]);
        assert!(!s.enhanced_surveillance);
        assert_eq!(s.bdm_status, None);
    }

    #[test]
    fn windows_1252_is_read_when_the_file_is_not_utf8() {
        let bytes = b"61234567\tP\xc9NICILLINE \x96 test\tcomprim\xe9\torale;intraveineuse\tAutorisation active\tProc\xe9dure nationale\tNon commercialis\xe9e\t01/02/2003\r\n";
        let parsed = specialities(bytes);
        assert!(parsed.windows_1252);
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let s = &parsed.rows[0];
        assert_eq!(s.denomination, "PÉNICILLINE – test");
        assert_eq!(s.routes, ["orale", "intraveineuse"]);
        assert!(!s.marketed);
        assert!(s.holders.is_empty(), "missing trailing fields are empty");
    }

    #[test]
    fn malformed_lines_are_set_aside_with_their_numbers_and_the_others_read() {
        let text = format!(
            "{DOLIPRANE}6023410\tSHORT CIS\n\n60234101\t\tcomprimé\n60234102\tBAD DATE\tx\ty\tz\tw\tCommercialisée\t31/02/2001\n{}",
            DOLIPRANE.replace("60234100", "60234103").trim_end().to_owned() + "\textra\tfields\n"
        );
        let parsed = specialities(text.as_bytes());
        assert_eq!(parsed.rows.len(), 2);
        let numbers: Vec<usize> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(numbers, [2, 4, 5]);
        assert!(parsed.rejected[0].reason.contains("CIS"), "{:?}", parsed.rejected);
        assert!(parsed.rejected[1].reason.contains("denomination"));
        assert!(parsed.rejected[2].reason.contains("date"));
    }

    #[test]
    fn presentations_and_compositions_are_read() {
        let cip = "60234100\t3400935955838\tplaquette(s) de 16 comprimé(s)\tPrésentation active\tDéclaration de commercialisation\t16/03/2011\t3400935955838\toui\t65 %\t1,16\n";
        let parsed = presentations(cip.as_bytes());
        assert_eq!(parsed.rejected.len(), 1, "a CIP7 of 13 digits is refused");
        let cip = "60234100\t3595583\tplaquette(s) de 16 comprimé(s)\tPrésentation active\tDéclaration de commercialisation\t16/03/2011\t3400935955838\toui\t65 %\t1,16\n";
        let parsed = presentations(cip.as_bytes());
        let p = &parsed.rows[0];
        assert_eq!((p.cip7.as_str(), p.cip13.as_str()), ("3595583", "3400935955838"));
        assert!(p.marketed);
        assert_eq!(p.collectivity_approval, Some(true));
        assert_eq!(p.reimbursement_rate.as_deref(), Some("65 %"));
        let compo = "60234100\tcomprimé\t02202\tPARACÉTAMOL\t500 mg\tun comprimé\tSA\t1\n60234100\tcomprimé\t02202\tPARACÉTAMOL\t500 mg\tun comprimé\tXX\t1\n";
        let parsed = compositions(compo.as_bytes());
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].nature, ComponentNature::ActiveSubstance);
        assert_eq!(parsed.rows[0].link, Some(1));
        assert_eq!(parsed.rejected[0].line, 2);
    }

    #[test]
    fn anything_at_all_is_read_without_panicking() {
        for bytes in [&b""[..], b"\t\t\t", b"\xff\xfe\x00", b"\n\n\r\n", b"1234567\xff\t"] {
            let _ = specialities(bytes);
            let _ = presentations(bytes);
            let _ = compositions(bytes);
        }
    }
}
