//! Measuring and wrapping text set in the standard Helvetica fonts. Text here is already
//! WinAnsi-encoded (see [`crate::winansi`]): one byte, one glyph.

use crate::metrics;

/// The two fonts the documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    fn widths(self) -> &'static [u16; 256] {
        match self {
            Font::Regular => &metrics::HELVETICA,
            Font::Bold => &metrics::HELVETICA_BOLD,
        }
    }

    /// The name of the font in the page resources.
    pub(crate) fn resource_name(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }

    /// The PostScript name of the standard font.
    pub(crate) fn base_font(self) -> &'static [u8] {
        match self {
            Font::Regular => b"Helvetica",
            Font::Bold => b"Helvetica-Bold",
        }
    }
}

/// Width in thousandths of the font size.
fn units(text: &[u8], font: Font) -> u64 {
    let widths = font.widths();
    text.iter().map(|&b| u64::from(widths[usize::from(b)])).sum()
}

/// The largest width in thousandths of `size` that fits in `width` points.
fn limit(width: f32, size: f32) -> u64 {
    let limit = (f64::from(width) * 1000.0 / f64::from(size)).floor();
    // NaN and negative widths (or sizes) give 0; `as` saturates the rest.
    if limit.is_nan() || limit <= 0.0 { 0 } else { limit as u64 }
}

/// Width of `text` in points when set in `font` at `size`.
pub fn text_width(text: &[u8], font: Font, size: f32) -> f32 {
    (units(text, font) as f64 * f64::from(size) / 1000.0) as f32
}

/// How many bytes at the start of `word` fit in `max` units. Stops at the first that does not,
/// so that cutting a very long word into lines takes linear time.
fn fitting(word: &[u8], font: Font, max: u64) -> usize {
    let widths = font.widths();
    let mut total = 0u64;
    word.iter()
        .take_while(|&&b| {
            total += u64::from(widths[usize::from(b)]);
            total <= max
        })
        .count()
}

/// Where to cut a word of which only `fit` bytes fit on the line: just after the last hyphen or
/// slash among them if there is one, else after `fit` bytes; at least one byte, so that every cut
/// makes progress.
fn cut_at(word: &[u8], fit: usize) -> usize {
    match word[..fit].iter().rposition(|&b| b == b'-' || b == b'/') {
        Some(at) if at > 0 => at + 1,
        _ => fit.max(1),
    }
}

/// Breaks a paragraph into lines: the first no wider than `first_width` points, the others no
/// wider than `width`. Lines break at spaces (runs of spaces collapse; non-breaking spaces, 0xA0,
/// hold words together); a word too long for a line of its own is cut, after a hyphen or a slash
/// when it has one. Only a single glyph wider than the line itself can exceed it. A paragraph
/// without words gives no lines.
pub fn wrap(text: &[u8], font: Font, size: f32, first_width: f32, width: f32) -> Vec<Vec<u8>> {
    let (first_limit, rest_limit) = (limit(first_width, size), limit(width, size));
    let space = units(b" ", font);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_units = 0u64;
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let word_units = units(word, font);
        if !line.is_empty() {
            let max = if lines.is_empty() { first_limit } else { rest_limit };
            if line_units + space + word_units <= max {
                line.push(b' ');
                line.extend_from_slice(word);
                line_units += space + word_units;
                continue;
            }
            lines.push(std::mem::take(&mut line));
        }
        // The line is empty: the word starts it, cut into pieces while it does not fit.
        let mut rest = word;
        while !rest.is_empty() {
            let max = if lines.is_empty() { first_limit } else { rest_limit };
            let fit = fitting(rest, font, max);
            if fit == rest.len() {
                line = rest.to_vec();
                line_units = units(rest, font);
                break;
            }
            let cut = cut_at(rest, fit);
            lines.push(rest[..cut].to_vec());
            rest = &rest[cut..];
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text`, shortened with an ellipsis when wider than `width` points.
pub fn truncate(text: &[u8], font: Font, size: f32, width: f32) -> Vec<u8> {
    let max = limit(width, size);
    if units(text, font) <= max {
        return text.to_vec();
    }
    let ellipsis = units(b"\x85", font);
    let widths = font.widths();
    let mut out = Vec::new();
    let mut total = ellipsis;
    for &b in text {
        total += u64::from(widths[usize::from(b)]);
        if total > max {
            break;
        }
        out.push(b);
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out.push(0x85);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::winansi::encode;

    fn assert_fits(lines: &[Vec<u8>], font: Font, size: f32, first: f32, rest: f32) {
        for (i, line) in lines.iter().enumerate() {
            let max = if i == 0 { first } else { rest };
            let width = text_width(line, font, size);
            assert!(width <= max + 1e-3, "line {i} is {width} wide, more than {max}: {line:?}");
            assert!(!line.is_empty() && line[0] != b' ' && *line.last().unwrap() != b' ');
        }
    }

    #[test]
    fn widths_follow_the_afm_metrics() {
        // "Aé" = 667 + 556 in Helvetica, 722 + 556 in bold.
        assert!((text_width(&encode("Aé"), Font::Regular, 10.0) - 12.23).abs() < 1e-4);
        assert!((text_width(&encode("Aé"), Font::Bold, 10.0) - 12.78).abs() < 1e-4);
        assert_eq!(text_width(b"", Font::Regular, 10.0), 0.0);
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width_and_every_word() {
        let text = encode(
            "Madame Durand souhaite continuer à se rendre au marché le samedi matin, \
             accompagnée si besoin, et garder le contact avec sa fille qui vit à Lyon.",
        );
        // (size, first width, other widths, whether every word fits on a line of its own)
        for (size, first, rest, words_fit) in [
            (10.0, 200.0, 200.0, true),
            (11.0, 80.0, 150.0, true),
            (9.0, 481.9, 481.9, true),
            (10.0, 30.0, 30.0, false),
        ] {
            let lines = wrap(&text, Font::Regular, size, first, rest);
            assert!(lines.len() > 1);
            assert_fits(&lines, Font::Regular, size, first, rest);
            if words_fit {
                assert_eq!(lines.join(&b' '), text);
            }
            // Nothing is lost even when words had to be cut.
            let squeeze = |t: &[u8]| t.iter().copied().filter(|&b| b != b' ').collect::<Vec<u8>>();
            assert_eq!(squeeze(&lines.concat()), squeeze(&text));
        }
    }

    #[test]
    fn a_short_text_stays_on_one_line_and_spaces_collapse() {
        assert_eq!(wrap(b"  un   deux  ", Font::Bold, 10.0, 300.0, 300.0), vec![b"un deux".to_vec()]);
        assert!(wrap(b"", Font::Regular, 10.0, 300.0, 300.0).is_empty());
        assert!(wrap(b"    ", Font::Regular, 10.0, 300.0, 300.0).is_empty());
    }

    #[test]
    fn very_long_words_are_cut() {
        let word = vec![b'm'; 5_000];
        let lines = wrap(&word, Font::Regular, 10.0, 100.0, 200.0);
        assert_fits(&lines, Font::Regular, 10.0, 100.0, 200.0);
        assert_eq!(lines.concat(), word);
        // 100 pt at 10 pt = 10,000 units: 12 m's of 833; then 24 per line.
        assert_eq!(lines[0].len(), 12);
        assert_eq!(lines[1].len(), 24);

        let url = encode("voir https://exemple.fr/un/chemin/vraiment/très/long/vers/un/document-de-synthèse");
        let lines = wrap(&url, Font::Regular, 10.0, 120.0, 120.0);
        assert_fits(&lines, Font::Regular, 10.0, 120.0, 120.0);
        assert!(lines[1].ends_with(b"/"), "cut after a slash: {:?}", String::from_utf8_lossy(&lines[1]));
    }

    #[test]
    fn cutting_a_huge_word_takes_linear_time() {
        let word = vec![b'a'; 2_000_000];
        let started = std::time::Instant::now();
        let lines = wrap(&word, Font::Regular, 10.0, 480.0, 480.0);
        assert_eq!(lines.iter().map(Vec::len).sum::<usize>(), word.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn non_breaking_spaces_hold_words_together() {
        let text = encode("il a dit\u{A0}: «\u{A0}oui\u{A0}»");
        let lines = wrap(&text, Font::Regular, 10.0, 60.0, 60.0);
        assert_eq!(lines.last().unwrap(), &encode("«\u{A0}oui\u{A0}»"));
    }

    #[test]
    fn degenerate_widths_do_not_hang_or_panic() {
        for width in [0.0, -5.0, f32::NAN, 1.0] {
            let lines = wrap(b"abc de", Font::Regular, 10.0, width, width);
            assert_eq!(lines.concat(), b"abcde");
        }
        assert!(wrap(b"abc", Font::Regular, 0.0, 100.0, 100.0).len() == 1);
        assert!(wrap(b"abc", Font::Regular, f32::INFINITY, 100.0, 100.0).len() == 3);
    }

    #[test]
    fn truncation_adds_an_ellipsis_within_the_width() {
        let name = encode("Établissement d’hébergement pour personnes âgées dépendantes Les Tilleuls");
        let short = truncate(&name, Font::Regular, 9.0, 150.0);
        assert!(text_width(&short, Font::Regular, 9.0) <= 150.0);
        assert_eq!(short.last(), Some(&0x85));
        assert_eq!(truncate(b"Court", Font::Regular, 9.0, 150.0), b"Court");
    }
}
