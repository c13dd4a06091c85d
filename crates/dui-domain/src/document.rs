//! Documents attached to a person's record: the directives anticipées, the designation of the
//! personne de confiance, the contrat de séjour, a scan of an identity document, a hospital or
//! discharge letter, a prescription, a photo of a wound...
//!
//! A document is a file — PDF, JPEG or PNG, nothing else — whose type is decided from its first
//! bytes (its signature), never from its name nor from the type the client declares: a file
//! that is not what it says, or none of the three, is refused saying what it was found to be.
//! Its title is sealed with its content; its kind, date, type, size and SHA-256 stay in clear.
//! Nothing is deleted: a document added by mistake is flagged as entered in error, with a reason.
//!
//! Who reads documents and who adds them follows the care data's rule, whatever the kind (the
//! directives anticipées included): those who read the care team's data where the person is
//! supported read them, those who record care data add them and flag them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::transmission::EnteredInError;
use crate::validation::{ValidationErrors, text};
use crate::{DocumentId, EstablishmentId, ResidentId, UserId};

/// The longest title, in characters.
pub const MAX_TITLE: usize = 200;

crate::text_codes! {
    /// What a document is (a closed list; `other` for the rest).
    pub enum DocumentKind {
        /// Directives anticipées.
        AdvanceDirectives = "advance_directives",
        /// Désignation de la personne de confiance.
        TrustedPersonDesignation = "trusted_person_designation",
        /// Contrat de séjour (or document individuel de prise en charge).
        ResidenceContract = "residence_contract",
        /// Scan of an identity document (carte d'identité, passeport, titre de séjour...).
        IdentityDocument = "identity_document",
        /// Hospital or discharge letter (courrier d'hospitalisation, compte rendu de sortie).
        HospitalLetter = "hospital_letter",
        /// Scan of a prescription (ordonnance).
        Prescription = "prescription",
        /// Photo of a wound.
        WoundPhoto = "wound_photo",
        /// Anything else (autre).
        Other = "other",
    }
}

crate::text_codes! {
    /// The formats a document may have, as media types.
    pub enum ContentType {
        Pdf = "application/pdf",
        Jpeg = "image/jpeg",
        Png = "image/png",
    }
}

crate::text_codes! {
    pub enum DocumentStatus {
        Active = "active",
        /// Added by mistake: kept, flagged.
        EnteredInError = "entered_in_error",
    }
}

/// What the refusals of a format say is accepted.
pub const ACCEPTED: &str = "PDF (application/pdf), JPEG (image/jpeg) or PNG (image/png)";

/// How many first bytes [`sniff`] needs to decide (fewer only when the file is shorter).
pub const SIGNATURE_LEN: usize = 8;

impl ContentType {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            ContentType::Pdf => "pdf",
            ContentType::Jpeg => "jpg",
            ContentType::Png => "png",
        }
    }

    fn described(self) -> &'static str {
        match self {
            ContentType::Pdf => "a PDF document",
            ContentType::Jpeg => "a JPEG image",
            ContentType::Png => "a PNG image",
        }
    }
}

/// The format of a file from its first bytes ([`SIGNATURE_LEN`] of them, or the whole file when
/// shorter); otherwise what it looks like, to tell the client what was found.
pub fn sniff(head: &[u8]) -> Result<ContentType, String> {
    if head.starts_with(b"%PDF-") {
        return Ok(ContentType::Pdf);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ContentType::Jpeg);
    }
    if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        return Ok(ContentType::Png);
    }
    let found = if head.is_empty() {
        "an empty file".to_owned()
    } else if head.starts_with(b"MZ") {
        "a Windows executable".to_owned()
    } else if head.starts_with(b"\x7fELF") {
        "an ELF executable".to_owned()
    } else if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive (or an office document)".to_owned()
    } else if head.starts_with(b"GIF8") {
        "a GIF image".to_owned()
    } else if head.starts_with(b"RIFF") {
        "a RIFF file (WebP image, WAV or AVI)".to_owned()
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        "an ISO media file (HEIC image or MP4 video)".to_owned()
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        "a TIFF image".to_owned()
    } else if head.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        "text".to_owned()
    } else {
        let hex: Vec<String> = head.iter().take(SIGNATURE_LEN).map(|b| format!("{b:02X}")).collect();
        format!("content of no known format (first bytes {})", hex.join(" "))
    };
    Err(format!("The content is {found}; a document must be {ACCEPTED}."))
}

/// Checks the type the client declared (`Content-Type`) against the one found in the content.
/// None, or `application/octet-stream`, leaves the decision to the content; any other type must
/// be the one found.
pub fn check_declared(declared: Option<&str>, found: ContentType) -> Result<(), String> {
    let Some(declared) = declared else { return Ok(()) };
    let essence = declared.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.is_empty() || essence == "application/octet-stream" || essence == found.as_str() {
        return Ok(());
    }
    Err(format!(
        "The request says the content is {essence}, but it is {} ({}); a document must be {ACCEPTED}, \
         sent as its own type or as application/octet-stream.",
        found.described(),
        found.as_str()
    ))
}

/// A document to add, as the client gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DocumentInput {
    pub kind: DocumentKind,
    pub title: String,
    /// The document's own date (signed, written, taken), when known.
    pub document_date: Option<NaiveDate>,
}

/// A document's metadata, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDocument {
    pub kind: DocumentKind,
    pub title: String,
    pub document_date: Option<NaiveDate>,
}

impl NewDocument {
    /// Checks the title (1 to [`MAX_TITLE`] characters) and the date (not after `today`).
    pub fn validate(input: DocumentInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = errors.check("title", text(&input.title, 1, MAX_TITLE));
        if input.document_date.is_some_and(|d| d > today) {
            errors.add("document_date", "must not be in the future");
        }
        errors.into_result(|| NewDocument {
            kind: input.kind,
            title: title.unwrap_or_default(),
            document_date: input.document_date,
        })
    }
}

/// What the content turned out to be once received whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFacts {
    pub content_type: ContentType,
    pub size_bytes: u64,
    /// SHA-256 of the content, in lower-case hexadecimal.
    pub sha256: String,
}

/// A document's metadata, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Document {
    pub id: DocumentId,
    pub resident_id: ResidentId,
    /// Where it was added (the establishment of the person's stay).
    pub establishment_id: EstablishmentId,
    pub kind: DocumentKind,
    pub title: String,
    /// The document's own date, when given.
    pub document_date: Option<NaiveDate>,
    /// Decided from the content: application/pdf, image/jpeg or image/png.
    pub content_type: ContentType,
    pub size_bytes: u64,
    /// SHA-256 of the content (lower-case hexadecimal): to check a download, or to see that a
    /// file was added already.
    pub sha256: String,
    pub status: DocumentStatus,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub entered_in_error: Option<EnteredInError>,
}

impl Document {
    /// The name a download is saved under: the title, kept to characters every system accepts,
    /// with the format's extension.
    pub fn file_name(&self) -> String {
        let mut name: String = self
            .title
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
            .take(100)
            .collect();
        name = name.trim_matches(|c| c == '_' || c == '.').to_owned();
        if name.is_empty() {
            name = "document".to_owned();
        }
        format!("{name}.{}", self.content_type.extension())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_decided_by_the_signature() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Ok(ContentType::Pdf));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']), Ok(ContentType::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Ok(ContentType::Png));
        let refused = |head: &[u8], found: &str| {
            let message = sniff(head).unwrap_err();
            assert!(message.contains(found) && message.contains("application/pdf"), "{message}");
        };
        refused(b"MZ\x90\x00\x03\x00\x00\x00", "Windows executable");
        refused(b"hello, this is text", "text");
        refused(b"", "empty file");
        refused(b"GIF89a..", "GIF");
        refused(b"PK\x03\x04\x14\x00\x06\x00", "ZIP");
        refused(b"\x00\x01\x02\x03\x04\x05\x06\x07", "00 01 02");
        // A truncated signature is not the format.
        assert!(sniff(b"\x89PNG").is_err());
        assert!(sniff(b"%PD").is_err());
    }

    #[test]
    fn a_declared_type_must_be_the_one_found() {
        assert!(check_declared(None, ContentType::Pdf).is_ok());
        assert!(check_declared(Some("application/octet-stream"), ContentType::Png).is_ok());
        assert!(check_declared(Some("Application/PDF; charset=binary"), ContentType::Pdf).is_ok());
        let message = check_declared(Some("image/png"), ContentType::Pdf).unwrap_err();
        assert!(message.contains("image/png") && message.contains("a PDF document"), "{message}");
        assert!(check_declared(Some("text/plain"), ContentType::Jpeg).is_err());
    }

    #[test]
    fn metadata_is_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let input = |title: &str, day: Option<NaiveDate>| DocumentInput {
            kind: DocumentKind::AdvanceDirectives,
            title: title.to_owned(),
            document_date: day,
        };
        let ok = NewDocument::validate(input("  Directives anticipées ", Some(today)), today).unwrap();
        assert_eq!(ok.title, "Directives anticipées");
        let errors = NewDocument::validate(input(" ", today.succ_opt()), today).unwrap_err();
        let text = errors.to_string();
        assert!(text.contains("title") && text.contains("document_date"), "{text}");
        assert!(NewDocument::validate(input(&"x".repeat(MAX_TITLE + 1), None), today).is_err());
    }

    #[test]
    fn file_names_are_safe() {
        let document = Document {
            id: DocumentId::from_uuid(uuid::Uuid::nil()),
            resident_id: ResidentId::from_uuid(uuid::Uuid::nil()),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::nil()),
            kind: DocumentKind::Other,
            title: "Lettre de sortie \"CHU\"/2026".to_owned(),
            document_date: None,
            content_type: ContentType::Pdf,
            size_bytes: 1,
            sha256: String::new(),
            status: DocumentStatus::Active,
            recorded_by: UserId::from_uuid(uuid::Uuid::nil()),
            recorded_at: DateTime::<Utc>::MIN_UTC,
            entered_in_error: None,
        };
        assert_eq!(document.file_name(), "Lettre_de_sortie__CHU__2026.pdf");
        let untitled = Document { title: "é".to_owned(), content_type: ContentType::Png, ..document };
        assert_eq!(untitled.file_name(), "document.png");
    }
}
