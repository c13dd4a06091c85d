//! What makes the file PDF/A-2b (ISO 19005-2, level B), the archival form a record's documents
//! are kept in: the document catalog with its XMP metadata stream (the PDF/A identification, and
//! the title, producer and creation date that the information dictionary also gives), and the
//! output intent with its embedded sRGB ICC profile, which gives the colours drawn in DeviceRGB
//! their meaning. The rest of the rules — fonts embedded, no `.notdef` glyph shown, a file
//! identifier, no encryption, transparency, JavaScript or external content — are kept by the
//! writer ([`crate::pdf`], [`crate::embed`]).

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use pdf_writer::types::OutputIntentSubtype;
use pdf_writer::{Date, Filter, Finish, Pdf, Ref, TextStr};

use crate::embed::deflate;

/// sRGB IEC61966-2.1, from Debian's icc-profiles-free (zlib licence: `color/LICENSE-sRGB.txt`).
static SRGB: &[u8] = include_bytes!("../color/sRGB.icc");

/// What the catalog of a document refers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refs {
    pub catalog: Ref,
    pub pages: Ref,
    pub info: Ref,
    pub metadata: Ref,
    pub profile: Ref,
}

impl Refs {
    pub(crate) fn bump(next: &mut Ref) -> Self {
        Refs {
            catalog: next.bump(),
            pages: next.bump(),
            info: next.bump(),
            metadata: next.bump(),
            profile: next.bump(),
        }
    }
}

/// What a document says about itself.
#[derive(Debug)]
pub(crate) struct Description<'a> {
    pub title: &'a str,
    pub producer: &'a str,
    /// BCP 47.
    pub language: &'a str,
    pub created: DateTime<Utc>,
}

/// `at` within the years a PDF date and an XMP date can both say (0001 to 9999), so that the
/// information dictionary and the metadata give the same date whatever the caller passes.
fn representable(at: DateTime<Utc>) -> DateTime<Utc> {
    let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC);
    let last = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().unwrap_or(DateTime::<Utc>::MAX_UTC);
    at.clamp(first, last)
}

fn pdf_date(at: DateTime<Utc>) -> Date {
    let two = |v: u32| u8::try_from(v).unwrap_or(0);
    Date::new(u16::try_from(at.year()).unwrap_or(0))
        .month(two(at.month()))
        .day(two(at.day()))
        .hour(two(at.hour()))
        .minute(two(at.minute()))
        .second(two(at.second()))
        .utc_offset_hour(0)
}

/// ISO 8601, as XMP writes dates.
fn xmp_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `text` as XML character data or attribute value.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The XMP packet of the document: Dublin Core title, format and language, the creation date,
/// the producer, and the PDF/A identification (part 2, conformance level B).
pub(crate) fn xmp(description: &Description<'_>) -> String {
    let title = xml_escape(description.title);
    let producer = xml_escape(description.producer);
    let language = xml_escape(description.language);
    let created = xmp_date(representable(description.created));
    // The packet header's byte order mark says the packet is UTF-8.
    let bom = '\u{FEFF}';
    format!(
        r#"<?xpacket begin="{bom}" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about=""
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
  xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
<dc:format>application/pdf</dc:format>
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>
<dc:language><rdf:Bag><rdf:li>{language}</rdf:li></rdf:Bag></dc:language>
<xmp:CreateDate>{created}</xmp:CreateDate>
<pdf:Producer>{producer}</pdf:Producer>
<pdfaid:part>2</pdfaid:part>
<pdfaid:conformance>B</pdfaid:conformance>
</rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"#
    )
}

/// Writes the catalog (its page tree being `refs.pages`), the information dictionary, the XMP
/// metadata and the output intent.
pub(crate) fn write(pdf: &mut Pdf, refs: Refs, description: &Description<'_>) {
    let mut catalog = pdf.catalog(refs.catalog);
    catalog.pages(refs.pages).lang(TextStr(description.language)).metadata(refs.metadata);
    catalog
        .output_intents()
        .push()
        .subtype(OutputIntentSubtype::PDFA)
        .output_condition_identifier(TextStr("sRGB IEC61966-2.1"))
        .registry_name(TextStr("http://www.color.org"))
        .info(TextStr("sRGB IEC61966-2.1"))
        .dest_output_profile(refs.profile);
    catalog.finish();

    pdf.document_info(refs.info)
        .title(TextStr(description.title))
        .producer(TextStr(description.producer))
        .creation_date(pdf_date(representable(description.created)));

    // Uncompressed, so that the identification can be read without decoding anything.
    pdf.metadata(refs.metadata, xmp(description).as_bytes());

    pdf.icc_profile(refs.profile, &deflate(SRGB)).n(3).filter(Filter::FlateDecode);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description(created: DateTime<Utc>) -> Description<'static> {
        Description {
            title: "Projet personnalisé <d'Élise & co>", producer: "dui-render", language: "fr-FR", created
        }
    }

    #[test]
    fn the_metadata_identify_pdf_a_2b_and_agree_with_the_information_dictionary() {
        let at = Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 5).unwrap();
        let xmp = xmp(&description(at));
        for part in [
            "<pdfaid:part>2</pdfaid:part>",
            "<pdfaid:conformance>B</pdfaid:conformance>",
            "<rdf:li xml:lang=\"x-default\">Projet personnalisé &lt;d&apos;Élise &amp; co&gt;</rdf:li>",
            "<xmp:CreateDate>2026-03-14T09:30:05Z</xmp:CreateDate>",
            "<pdf:Producer>dui-render</pdf:Producer>",
        ] {
            assert!(xmp.contains(part), "{part} missing from {xmp}");
        }
        assert!(xmp.starts_with("<?xpacket begin=\"\u{FEFF}\"") && xmp.ends_with("<?xpacket end=\"r\"?>"));

        let mut pdf = Pdf::new();
        let mut next = Ref::new(1);
        let refs = Refs::bump(&mut next);
        pdf.pages(refs.pages).count(0);
        write(&mut pdf, refs, &description(at));
        let bytes = pdf.finish();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/CreationDate (D:20260314093005Z)"), "{text}");
        assert!(text.contains("/S /GTS_PDFA1"));
    }

    #[test]
    fn dates_out_of_range_are_the_same_in_both_places() {
        for (at, expected) in
            [(DateTime::<Utc>::MIN_UTC, "0001-01-01T00:00:00Z"), (DateTime::<Utc>::MAX_UTC, "9999-12-31T23:59:59Z")]
        {
            let at = representable(at);
            assert_eq!(xmp_date(at), expected);
            let mut pdf = Pdf::new();
            pdf.document_info(Ref::new(1)).creation_date(pdf_date(at));
            let digits: String = expected.chars().filter(char::is_ascii_digit).collect();
            assert!(String::from_utf8_lossy(&pdf.finish()).contains(&format!("(D:{digits}Z)")));
        }
    }

    #[test]
    fn the_profile_is_an_rgb_display_profile() {
        // ICC header: device class at 12, colour space at 16, signature at 36.
        assert_eq!(&SRGB[12..20], b"mntrRGB ");
        assert_eq!(&SRGB[36..40], b"acsp");
        assert_eq!(u32::from_be_bytes(SRGB[0..4].try_into().unwrap()) as usize, SRGB.len());
    }
}
