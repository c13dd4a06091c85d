//! The fonts the documents are set in: DejaVu Sans and DejaVu Sans Bold, shipped inside the
//! binary (their licence is `fonts/LICENSE-DejaVu.txt`) so that any text a person's record holds
//! — Polish, Vietnamese, Greek or Cyrillic names, mathematical signs, typographic quotes — is
//! printed as written, on any machine. Glyphs are found through the fonts' own `cmap` and
//! measured with their own advances (`hmtx`); the PDF embeds only the glyphs a document uses
//! (see [`crate::embed`]).

use std::sync::LazyLock;

use ttf_parser::{Face, GlyphId};

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Characters below this are looked up in a table made once rather than in the font's `cmap`
/// and `hmtx`: Latin, Greek, Cyrillic, Hebrew and Arabic, nearly all the text a record holds,
/// which is measured several times while lines are broken.
const COMMON: usize = 0x800;

/// A font, parsed.
struct Loaded {
    face: Face<'static>,
    /// For each character below [`COMMON`]: its glyph (0 when the font has none) and advance.
    common: Vec<(u16, u16)>,
}

impl Loaded {
    fn new(data: &'static [u8]) -> Self {
        // The files are part of the binary and the tests parse them: failing here would be a
        // build made with broken font files.
        let face = Face::parse(data, 0).expect("the embedded DejaVu fonts parse");
        let common = (0..COMMON)
            .map(|code| {
                let glyph = char::from_u32(u32::try_from(code).unwrap_or(0))
                    .and_then(|c| face.glyph_index(c))
                    .map_or(0, |g| g.0);
                (glyph, face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0))
            })
            .collect();
        Loaded { face, common }
    }

    /// The glyph of `c` and its advance, if the font has one.
    fn lookup(&self, c: char) -> Option<(u16, u16)> {
        let found = match self.common.get(c as usize) {
            Some(&common) => common,
            None => {
                let glyph = self.face.glyph_index(c)?;
                (glyph.0, self.face.glyph_hor_advance(glyph).unwrap_or(0))
            }
        };
        Some(found).filter(|&(glyph, _)| glyph != 0)
    }
}

/// Both fonts, read once.
static FONTS: LazyLock<[Loaded; 2]> = LazyLock::new(|| [Loaded::new(REGULAR), Loaded::new(BOLD)]);

/// The two fonts the documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    pub(crate) const ALL: [Font; 2] = [Font::Regular, Font::Bold];

    fn loaded(self) -> &'static Loaded {
        &FONTS[self as usize]
    }

    pub(crate) fn face(self) -> &'static Face<'static> {
        &self.loaded().face
    }

    /// The font file, as shipped.
    pub(crate) fn data(self) -> &'static [u8] {
        match self {
            Font::Regular => REGULAR,
            Font::Bold => BOLD,
        }
    }

    /// The name of the font in the page resources.
    pub(crate) fn resource_name(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }

    /// The PostScript name of the font (its `name` table says the same).
    pub(crate) fn postscript_name(self) -> &'static str {
        match self {
            Font::Regular => "DejaVuSans",
            Font::Bold => "DejaVuSans-Bold",
        }
    }

    /// Font units per em (2048 for DejaVu).
    pub(crate) fn units_per_em(self) -> u16 {
        self.face().units_per_em()
    }

    /// The glyph of `c`, if the font draws it (the `.notdef` glyph, 0, is no glyph of a
    /// character: it is what a reader shows for a missing one).
    pub(crate) fn glyph(self, c: char) -> Option<u16> {
        self.loaded().lookup(c).map(|(glyph, _)| glyph)
    }

    /// Whether the font has a glyph for `c`.
    pub(crate) fn has(self, c: char) -> bool {
        self.glyph(c).is_some()
    }

    /// The advance of glyph `glyph`, in font units.
    pub(crate) fn glyph_advance(self, glyph: u16) -> u16 {
        self.face().glyph_hor_advance(GlyphId(glyph)).unwrap_or(0)
    }

    /// The advance of `c` in font units; 0 for a character the font lacks (text is made of
    /// characters the font has before it is measured: see [`crate::text::shown`]).
    pub(crate) fn advance(self, c: char) -> u16 {
        self.loaded().lookup(c).map_or(0, |(_, advance)| advance)
    }

    /// `units` font units in thousandths of the font size, the unit of PDF font metrics.
    pub(crate) fn to_pdf_units(self, units: f32) -> f32 {
        units * 1000.0 / f32::from(self.units_per_em())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_fonts_parse_and_are_dejavu_sans() {
        for font in Font::ALL {
            let face = font.face();
            assert_eq!(face.units_per_em(), 2048);
            let name = face
                .names()
                .into_iter()
                .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
                .find_map(|n| n.to_string())
                .unwrap();
            assert_eq!(name, font.postscript_name());
            assert!(face.is_subsetting_allowed());
            assert_eq!(face.is_bold(), font == Font::Bold);
        }
    }

    #[test]
    fn both_fonts_draw_what_french_records_hold_and_more() {
        for font in Font::ALL {
            for c in "AZaz09 éèêëàâäîïôöùûüÿçÉÈÊÀÇŒœÆæ«»‘’“”…•–—€‰≥≤±×÷°²ŁłŃńŚśŹźŻżĄąĘęŐőŰűĞğİıŞşễỄΩωЖж\u{A0}\u{202F}?"
                .chars()
            {
                assert!(font.has(c), "{font:?} lacks {c:?}");
                assert!(font.advance(c) > 0 || c == '\u{202F}', "{font:?}: {c:?} has no advance");
            }
            assert!(!font.has('🦀') && !font.has('中'), "DejaVu Sans has few emoji and no CJK");
            assert_eq!(font.glyph('\u{1}'), None);
        }
    }

    #[test]
    fn the_table_of_common_characters_is_the_fonts_cmap() {
        for font in Font::ALL {
            let face = font.face();
            for c in ('\0'..'\u{900}').chain(['€', '≥', '‘', '’', '“', '”', '…', '•', '\u{202F}', '中', '🦀'])
            {
                let glyph = face.glyph_index(c).map(|g| g.0).filter(|&g| g != 0);
                assert_eq!(font.glyph(c), glyph, "{font:?} {c:?}");
                let advance = glyph.and_then(|g| face.glyph_hor_advance(GlyphId(g))).unwrap_or(0);
                assert_eq!(font.advance(c), advance, "{font:?} {c:?}");
            }
        }
    }

    #[test]
    fn advances_are_the_fonts_own() {
        // DejaVu Sans: "A" is 1401 units wide, "i" 569, the space 651; bold is wider.
        assert_eq!(Font::Regular.advance('A'), 1401);
        assert_eq!(Font::Regular.advance('i'), 569);
        assert_eq!(Font::Regular.advance(' '), 651);
        assert!(Font::Bold.advance('i') > Font::Regular.advance('i'));
        assert!((Font::Regular.to_pdf_units(1024.0) - 500.0).abs() < 1e-4);
    }
}
