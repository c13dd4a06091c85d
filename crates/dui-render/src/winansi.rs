//! Unicode to WinAnsiEncoding (Windows code page 1252), the encoding of the standard fonts.

/// The code of `c` in cp1252, if it has one (printable characters only).
fn code(c: char) -> Option<u8> {
    let byte = match c {
        // The soft hyphen is invisible unless a line breaks there; it is dropped (see `substitute`).
        '\u{AD}' => return None,
        ' '..='~' | '\u{A0}'..='\u{FF}' => return u8::try_from(u32::from(c)).ok(),
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(byte)
}

/// What to write for a character cp1252 lacks but for which a close equivalent exists: spaces of
/// other widths, hyphens, ligatures. `Some("")` drops an invisible character.
fn substitute(c: char) -> Option<&'static str> {
    Some(match c {
        // Tabulation and other breakable spaces.
        '\t' | '\u{2000}'..='\u{2006}' | '\u{2008}'..='\u{200A}' | '\u{205F}' | '\u{3000}' => " ",
        // Non-breaking spaces (the narrow one is French typography's, before « : ; ! ? »).
        '\u{2007}' | '\u{202F}' => "\u{A0}",
        // Soft hyphen, zero-width characters, byte order mark.
        '\u{AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => "",
        '\u{2010}' | '\u{2011}' | '\u{2212}' => "-",
        '\u{2012}' => "–",
        '\u{2015}' => "—",
        '\u{2032}' => "'",
        '\u{2033}' => "\"",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        _ => return None,
    })
}

/// Combining marks and the letters they make with a base letter, for text typed in decomposed
/// form (e + U+0301 for é), as some systems send it.
const COMPOSITIONS: &[(char, &str, &str)] = &[
    ('\u{300}', "AEIOUaeiou", "ÀÈÌÒÙàèìòù"),
    ('\u{301}', "AEIOUYaeiouy", "ÁÉÍÓÚÝáéíóúý"),
    ('\u{302}', "AEIOUaeiou", "ÂÊÎÔÛâêîôû"),
    ('\u{303}', "ANOano", "ÃÑÕãñõ"),
    ('\u{308}', "AEIOUYaeiouy", "ÄËÏÖÜŸäëïöüÿ"),
    ('\u{30A}', "Aa", "Åå"),
    ('\u{30C}', "SZsz", "ŠŽšž"),
    ('\u{327}', "Cc", "Çç"),
];

fn compose(base: char, mark: char) -> Option<char> {
    let (_, bases, composed) = COMPOSITIONS.iter().find(|(m, _, _)| *m == mark)?;
    let index = bases.chars().position(|b| b == base)?;
    composed.chars().nth(index)
}

/// Encodes one line of text (no line breaks expected; any left become spaces) in cp1252.
/// Characters it cannot represent become '?'.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(mut c) = chars.next() {
        if let Some(composed) = chars.peek().and_then(|&mark| compose(c, mark)) {
            chars.next();
            c = composed;
        }
        if let Some(byte) = code(c) {
            out.push(byte);
        } else if matches!(c, '\n' | '\r') {
            out.push(b' ');
        } else if let Some(replacement) = substitute(c) {
            out.extend(replacement.chars().filter_map(code));
        } else {
            out.push(b'?');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_maps_to_cp1252() {
        assert_eq!(encode("Élodie à l’école"), b"\xC9lodie \xE0 l\x92\xE9cole");
        assert_eq!(encode("« cœur » … ça"), b"\xAB c\x9Cur \xBB \x85 \xE7a");
        assert_eq!(encode("Œuvre — 5 €"), b"\x8Cuvre \x97 5 \x80");
        assert_eq!(encode("plutôt naïf"), b"plut\xF4t na\xEFf");
    }

    #[test]
    fn decomposed_accents_are_composed() {
        assert_eq!(encode("e\u{301}te\u{301}"), encode("été"));
        assert_eq!(encode("C\u{327}a"), encode("Ça"));
        // A mark that makes nothing with its base cannot be represented.
        assert_eq!(encode("q\u{301}"), b"q?");
    }

    #[test]
    fn characters_outside_cp1252_become_question_marks() {
        assert_eq!(encode("a😀b"), b"a?b");
        assert_eq!(encode("Ω ő"), b"? ?");
        assert_eq!(encode("\u{1}"), b"?");
        // Undefined cp1252 positions are never produced for their Unicode counterparts.
        assert_eq!(encode("\u{81}\u{8D}"), b"??");
    }

    #[test]
    fn close_equivalents_are_used() {
        assert_eq!(encode("oui\u{202F}!"), b"oui\xA0!");
        assert_eq!(encode("a\tb\u{AD}c\u{200B}d"), b"a bcd");
        assert_eq!(encode("ﬁn"), b"fin");
        assert_eq!(encode("x\u{2011}y"), b"x-y");
    }
}
