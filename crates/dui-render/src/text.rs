//! Text as it will be drawn: characters the font has, in their composed form, with the
//! invisible ones dropped and those the font lacks replaced.

use unicode_normalization::UnicodeNormalization;

use crate::font::Font;

/// Adds `c` to `out` as `font` can draw it.
fn push(out: &mut String, c: char, font: Font) {
    match c {
        // Line breaks are the caller's to make; any left over are spaces, like tabulations and
        // the breakable spaces of other widths (lines break at plain spaces only; the
        // non-breaking ones, U+00A0, U+2007 and U+202F, are drawn as they are).
        '\n' | '\r' | '\t' | '\u{2000}'..='\u{2006}' | '\u{2008}'..='\u{200A}' | '\u{205F}' | '\u{3000}' => {
            out.push(' ');
        }
        // Soft hyphen (invisible unless a line breaks there), zero-width characters,
        // directional marks and isolates, byte order mark: nothing to draw.
        '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}' => {}
        c if c.is_control() => out.push('?'),
        c if font.has(c) => out.push(c),
        // Emoji, CJK and the rest of what DejaVu does not draw: never the `.notdef` glyph.
        _ => out.push('?'),
    }
}

/// One line of text (no line breaks expected; any left become spaces) as drawn in `font`: in
/// composed form (e + U+0301 is é, as some systems send it), every character one the font has;
/// those it cannot draw become '?'.
pub(crate) fn shown(text: &str, font: Font) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfc() {
        push(&mut out, c, font);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_as_written() {
        for text in ["Élodie à l’école", "« cœur » … ça", "Łódź ≥ 5 %", "Œuvre — 5 €", "‘’“”", "Nguyễn", "Ωmega Жанна"]
        {
            assert_eq!(shown(text, Font::Regular), text);
            assert_eq!(shown(text, Font::Bold), text);
        }
    }

    #[test]
    fn decomposed_accents_are_composed() {
        assert_eq!(shown("e\u{301}te\u{301}", Font::Regular), "été");
        assert_eq!(shown("C\u{327}a", Font::Regular), "Ça");
        // A mark that makes no letter with its base is drawn as a mark after it.
        assert_eq!(shown("q\u{301}", Font::Regular), "q\u{301}");
    }

    #[test]
    fn characters_the_font_lacks_become_question_marks() {
        assert_eq!(shown("a🦀b", Font::Regular), "a?b");
        assert_eq!(shown("chinois 中文", Font::Bold), "chinois ??");
        assert_eq!(shown("\u{1}\u{7f}\u{81}", Font::Regular), "???");
    }

    #[test]
    fn spaces_and_invisible_characters() {
        assert_eq!(shown("oui\u{202F}! 5\u{A0}%", Font::Regular), "oui\u{202F}! 5\u{A0}%");
        assert_eq!(shown("a\tb\u{AD}c\u{200B}d\u{2003}e\nf\u{2066}g\u{2069}", Font::Regular), "a bcd e fg");
        assert_eq!(shown("ﬁn x\u{2011}y −3", Font::Bold), "ﬁn x\u{2011}y −3");
    }
}
