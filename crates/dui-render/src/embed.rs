//! Embedding a font in the PDF, subset to the glyphs the document shows: a Type0 font with the
//! Identity-H encoding over a CIDFontType2 descendant (two bytes per glyph in the content
//! streams, the glyph's number in the subset being its CID), the subset TrueType program
//! (FontFile2), the advances of the glyphs (/W, from the font's `hmtx`), and a ToUnicode CMap
//! that gives each glyph its character back for searching, copying and reading aloud.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};
use subsetter::GlyphRemapper;

use crate::font::Font;

/// The glyphs of one font that a document shows, numbered in order of first use.
#[derive(Debug)]
pub(crate) struct Embedding {
    font: Font,
    glyphs: GlyphRemapper,
    /// The character each CID was first drawn for.
    chars: BTreeMap<u16, char>,
}

/// The font program embedded and what the descendant font needs to address it.
struct Program {
    bytes: Vec<u8>,
    /// Whether only the glyphs used are in it (then CIDs are glyph numbers, and the font's name
    /// carries a subset tag).
    subset: bool,
}

/// Flate-compressed, as PDF readers expect a `FlateDecode` stream. Level 6: on a plan's font
/// subsets, level 9 makes files no smaller and takes three times as long.
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// The height of capital letters, in font units: the `OS/2` table's when it records it (DejaVu's
/// version 1 table does not), else the top of "H".
fn cap_height(font: Font) -> i16 {
    let face = font.face();
    face.capital_height()
        .or_else(|| Some(face.glyph_bounding_box(ttf_parser::GlyphId(font.glyph('H')?))?.y_max))
        .unwrap_or(face.ascender())
}

impl Embedding {
    pub(crate) fn new(font: Font) -> Self {
        Embedding { font, glyphs: GlyphRemapper::new(), chars: BTreeMap::new() }
    }

    pub(crate) fn font(&self) -> Font {
        self.font
    }

    /// Whether the document shows any glyph of this font.
    pub(crate) fn is_used(&self) -> bool {
        !self.chars.is_empty()
    }

    /// `text` as a string for the text-showing operators: two bytes, the CID, per character.
    /// A character the font lacks (text is prepared by [`crate::text::shown`], so none should
    /// be) is shown as '?': never as the `.notdef` glyph, which PDF/A forbids showing.
    pub(crate) fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * text.len());
        for c in text.chars() {
            let (c, glyph) = match (self.font.glyph(c), self.font.glyph('?')) {
                (Some(glyph), _) => (c, glyph),
                (None, Some(question_mark)) => ('?', question_mark),
                (None, None) => continue,
            };
            let cid = self.glyphs.remap(glyph);
            self.chars.entry(cid).or_insert(c);
            out.extend(cid.to_be_bytes());
        }
        out
    }

    /// The glyph numbers in the font file, by CID.
    fn glyph_ids(&self) -> Vec<u16> {
        self.glyphs.remapped_gids().collect()
    }

    fn program(&self) -> Program {
        match subsetter::subset(self.font.data(), 0, &self.glyphs) {
            Ok(bytes) => Program { bytes, subset: true },
            // Not expected with the shipped fonts (tests subset them); the document is still
            // whole with the complete font, CIDs then mapped to its glyph numbers.
            Err(_) => Program { bytes: self.font.data().to_vec(), subset: false },
        }
    }

    /// The six capital letters that name a subset, derived from the glyphs it holds so that the
    /// same glyphs give the same name (PDF 32000-1, 9.6.4).
    fn subset_tag(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.font.postscript_name());
        for glyph in self.glyph_ids() {
            hash.update(glyph.to_be_bytes());
        }
        hash.finalize().iter().take(6).map(|b| char::from(b'A' + b % 26)).collect()
    }

    /// Writes the font's objects, numbered from `next` on, and returns the Type0 font's number
    /// (which pages name in their resources) and the font program's bytes (the document
    /// identifier is derived from them, among others).
    pub(crate) fn write(&self, pdf: &mut Pdf, next: &mut Ref) -> (Ref, Vec<u8>) {
        self.write_program(pdf, next, self.program())
    }

    fn write_program(&self, pdf: &mut Pdf, next: &mut Ref, program: Program) -> (Ref, Vec<u8>) {
        let font = self.font;
        let face = font.face();
        let type0 = next.bump();
        let (cid_font_id, descriptor, font_file, to_unicode) = (next.bump(), next.bump(), next.bump(), next.bump());
        let cid_to_gid = (!program.subset).then(|| next.bump());
        let base_font = if program.subset {
            format!("{}+{}", self.subset_tag(), font.postscript_name())
        } else {
            font.postscript_name().to_owned()
        };
        let base_font = Name(base_font.as_bytes());
        let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

        pdf.type0_font(type0)
            .base_font(base_font)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_font_id)
            .to_unicode(to_unicode);

        let glyph_ids = self.glyph_ids();
        let mut cid_font = pdf.cid_font(cid_font_id);
        cid_font.subtype(CidFontType::Type2).base_font(base_font).system_info(system_info).font_descriptor(descriptor);
        // Every CID's advance, exactly the font's (PDF/A: the widths and the program agree).
        let advance = |glyph: u16| font.to_pdf_units(f32::from(font.glyph_advance(glyph)));
        cid_font.default_width(advance(0));
        cid_font.widths().consecutive(0, glyph_ids.iter().map(|&g| advance(g)));
        match cid_to_gid {
            None => {
                cid_font.cid_to_gid_map_predefined(Name(b"Identity"));
                cid_font.finish();
            }
            Some(map_id) => {
                cid_font.cid_to_gid_map_stream(map_id);
                cid_font.finish();
                let map: Vec<u8> = glyph_ids.iter().flat_map(|g| g.to_be_bytes()).collect();
                pdf.stream(map_id, &deflate(&map)).filter(Filter::FlateDecode);
            }
        }

        let scale = |units: i16| font.to_pdf_units(f32::from(units));
        let bbox = face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(base_font)
            // Symbolic: the font has glyphs outside the standard Latin character set.
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)))
            .italic_angle(face.italic_angle())
            .ascent(scale(face.ascender()))
            .descent(scale(face.descender()))
            .cap_height(scale(cap_height(font)))
            // The dominant vertical stem's width, which the file does not record; estimated from
            // the weight class (400 → 80, 700 → 140), as readers only use it as a hint.
            .stem_v(f32::from(face.weight().to_number()) / 5.0)
            .font_file2(font_file);

        let compressed = deflate(&program.bytes);
        let length = i32::try_from(program.bytes.len()).unwrap_or(i32::MAX);
        pdf.stream(font_file, &compressed).filter(Filter::FlateDecode).pair(Name(b"Length1"), length);

        let mut cmap = UnicodeCmap::new(
            Name(b"Adobe-Identity-UCS"),
            SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"UCS"), supplement: 0 },
        );
        for (&cid, &c) in &self.chars {
            cmap.pair(cid, c);
        }
        pdf.cmap(to_unicode, cmap.finish().as_slice());
        (type0, program.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_follow_first_use_and_the_notdef_glyph_is_never_shown() {
        let mut embedding = Embedding::new(Font::Regular);
        assert!(!embedding.is_used());
        assert_eq!(embedding.encode("abba"), [0, 1, 0, 2, 0, 2, 0, 1]);
        // A character the font lacks is shown as '?'.
        assert_eq!(embedding.encode("中"), [0, 3]);
        assert_eq!(embedding.chars, BTreeMap::from([(1, 'a'), (2, 'b'), (3, '?')]));
        assert!(embedding.is_used());
        assert_eq!(embedding.glyph_ids(), [0, 68, 69, 34]);
    }

    #[test]
    fn the_shipped_fonts_are_subset() {
        for font in Font::ALL {
            let mut embedding = Embedding::new(font);
            embedding.encode("Łódź ≥ 5 % Œuvre café € ‘’“” Ωmega Жанна Nguyễn");
            let program = embedding.program();
            assert!(program.subset, "{font:?}");
            assert!(program.bytes.len() < font.data().len() / 10, "{font:?}: {} bytes", program.bytes.len());
            // The subset's glyphs are the ones asked for, at their CIDs, with their advances.
            let face = ttf_parser::Face::parse(&program.bytes, 0).unwrap();
            for (cid, glyph) in embedding.glyph_ids().into_iter().enumerate() {
                let cid = ttf_parser::GlyphId(u16::try_from(cid).unwrap());
                assert_eq!(face.glyph_hor_advance(cid), Some(font.glyph_advance(glyph)));
            }
        }
    }

    #[test]
    fn without_a_subset_the_whole_font_is_embedded_with_a_cid_map() {
        let mut embedding = Embedding::new(Font::Regular);
        embedding.encode("ba");
        let mut pdf = Pdf::new();
        let mut next = Ref::new(1);
        let whole = Program { bytes: Font::Regular.data().to_vec(), subset: false };
        let (font, program) = embedding.write_program(&mut pdf, &mut next, whole);
        assert_eq!((font, program.len()), (Ref::new(1), Font::Regular.data().len()));
        assert_eq!(next, Ref::new(7), "six objects, the map among them");
        let bytes = pdf.finish();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/BaseFont /DejaVuSans\n") && text.contains("/CIDToGIDMap 6 0 R"), "{text}");
        // CID 0, 1, 2 → glyphs 0, 'b' (69), 'a' (68).
        let at = bytes.windows(7).position(|w| w == b"6 0 obj").unwrap();
        let data = &bytes[at..];
        let start = data.windows(7).position(|w| w == b"stream\n").unwrap() + 7;
        let end = data.windows(10).position(|w| w == b"\nendstream").unwrap();
        let map = miniz_oxide::inflate::decompress_to_vec_zlib(&data[start..end]).unwrap();
        assert_eq!(map, [0, 0, 0, 69, 0, 68]);
    }

    #[test]
    fn the_subset_tag_names_the_glyphs() {
        let tag = |text: &str| {
            let mut embedding = Embedding::new(Font::Bold);
            embedding.encode(text);
            embedding.subset_tag()
        };
        assert_eq!(tag("Projet"), tag("Projet"));
        assert_ne!(tag("Projet"), tag("Projets"));
        assert!(tag("x").len() == 6 && tag("x").chars().all(|c| c.is_ascii_uppercase()));
    }
}
