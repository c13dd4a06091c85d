//! Measuring and wrapping text set in the documents' fonts, with the fonts' own advances. Text
//! here is already made of characters the font has (see [`crate::text::shown`]).

use crate::font::Font;

#[cfg(test)]
thread_local! {
    /// Advances looked up on this thread: the work the layout does, counted by the tests.
    static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The advance of `c` in font units.
fn advance(font: Font, c: char) -> u64 {
    #[cfg(test)]
    LOOKUPS.with(|n| n.set(n.get() + 1));
    u64::from(font.advance(c))
}

/// Width in font units.
fn units(text: &str, font: Font) -> u64 {
    text.chars().map(|c| advance(font, c)).sum()
}

/// The largest width in font units at `size` that fits in `width` points.
fn limit(width: f32, size: f32, font: Font) -> u64 {
    let limit = (f64::from(width) * f64::from(font.units_per_em()) / f64::from(size)).floor();
    // NaN and negative widths (or sizes) give 0; `as` saturates the rest.
    if limit.is_nan() || limit <= 0.0 { 0 } else { limit as u64 }
}

/// Width of `text` in points when set in `font` at `size`.
pub fn text_width(text: &str, font: Font, size: f32) -> f32 {
    (units(text, font) as f64 * f64::from(size) / f64::from(font.units_per_em())) as f32
}

/// How many bytes at the start of `word` fit in `max` units, whole characters. Stops at the
/// first character that does not fit, so that cutting a very long word into lines takes linear
/// time.
fn fitting(word: &str, font: Font, max: u64) -> usize {
    let mut total = 0u64;
    for (at, c) in word.char_indices() {
        total += advance(font, c);
        if total > max {
            return at;
        }
    }
    word.len()
}

/// Where to cut a word of which only `fit` bytes fit on the line: just after the last hyphen or
/// slash among them if there is one, else after `fit` bytes; at least one character, so that
/// every cut makes progress.
fn cut_at(word: &str, fit: usize) -> usize {
    match word[..fit].rfind(['-', '/']) {
        Some(at) if at > 0 => at + 1,
        _ => fit.max(word.chars().next().map_or(0, char::len_utf8)),
    }
}

/// Breaks a paragraph into lines: the first no wider than `first_width` points, the others no
/// wider than `width`. Lines break at spaces (runs of spaces collapse; non-breaking spaces hold
/// words together); a word too long for a line of its own is cut, after a hyphen or a slash when
/// it has one. Only a single glyph wider than the line itself can exceed it. A paragraph without
/// words gives no lines.
pub fn wrap(text: &str, font: Font, size: f32, first_width: f32, width: f32) -> Vec<String> {
    let (first_limit, rest_limit) = (limit(first_width, size, font), limit(width, size, font));
    let space = units(" ", font);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut line_units = 0u64;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let word_units = units(word, font);
        if !line.is_empty() {
            let max = if lines.is_empty() { first_limit } else { rest_limit };
            if line_units + space + word_units <= max {
                line.push(' ');
                line.push_str(word);
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
                line = rest.to_owned();
                line_units = units(rest, font);
                break;
            }
            let cut = cut_at(rest, fit);
            lines.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text`, shortened with an ellipsis when wider than `width` points.
pub fn truncate(text: &str, font: Font, size: f32, width: f32) -> String {
    let max = limit(width, size, font);
    if units(text, font) <= max {
        return text.to_owned();
    }
    let mut total = units("…", font);
    let mut out = String::new();
    for c in text.chars() {
        total += u64::from(font.advance(c));
        if total > max {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end_matches(' ').len());
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::shown;

    fn assert_fits(lines: &[String], font: Font, size: f32, first: f32, rest: f32) {
        for (i, line) in lines.iter().enumerate() {
            let max = if i == 0 { first } else { rest };
            let width = text_width(line, font, size);
            assert!(width <= max + 1e-3, "line {i} is {width} wide, more than {max}: {line:?}");
            assert!(!line.is_empty() && !line.starts_with(' ') && !line.ends_with(' '));
        }
    }

    #[test]
    fn widths_follow_the_fonts_advances() {
        // "Aé" = 1401 + 1260 units of 2048 in DejaVu Sans, 1585 + 1389 in bold.
        assert!((text_width("Aé", Font::Regular, 10.0) - 12.993164).abs() < 1e-4);
        assert!((text_width("Aé", Font::Bold, 10.0) - 14.521484).abs() < 1e-4);
        assert_eq!(text_width("", Font::Regular, 10.0), 0.0);
        // Characters outside Latin-1 are measured like any other.
        assert!(text_width("Łódź ≥ 5 €", Font::Regular, 10.0) > text_width("Lodz", Font::Regular, 10.0));
    }

    #[test]
    fn wrapping_keeps_every_line_within_the_width_and_every_word() {
        let text = shown(
            "Madame Durand souhaite continuer à se rendre au marché le samedi matin, \
             accompagnée si besoin, et garder le contact avec sa fille qui vit à Łódź.",
            Font::Regular,
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
                assert_eq!(lines.join(" "), text);
            }
            // Nothing is lost even when words had to be cut.
            let squeeze = |t: &str| t.chars().filter(|&c| c != ' ').collect::<String>();
            assert_eq!(squeeze(&lines.concat()), squeeze(&text));
        }
    }

    #[test]
    fn a_short_text_stays_on_one_line_and_spaces_collapse() {
        assert_eq!(wrap("  un   deux  ", Font::Bold, 10.0, 300.0, 300.0), vec!["un deux".to_owned()]);
        assert!(wrap("", Font::Regular, 10.0, 300.0, 300.0).is_empty());
        assert!(wrap("    ", Font::Regular, 10.0, 300.0, 300.0).is_empty());
    }

    #[test]
    fn very_long_words_are_cut() {
        let word = "m".repeat(5_000);
        let lines = wrap(&word, Font::Regular, 10.0, 100.0, 200.0);
        assert_fits(&lines, Font::Regular, 10.0, 100.0, 200.0);
        assert_eq!(lines.concat(), word);
        // 100 pt at 10 pt = 20,480 units: 10 m's of 1995; then 20 per line.
        assert_eq!(lines[0].len(), 10);
        assert_eq!(lines[1].len(), 20);

        // Cuts fall between characters, whatever their length in bytes.
        let word = "ŁÓDŹ€≥".repeat(400);
        let lines = wrap(&word, Font::Bold, 10.0, 100.0, 100.0);
        assert_fits(&lines, Font::Bold, 10.0, 100.0, 100.0);
        assert_eq!(lines.concat(), word);

        let url = "voir https://exemple.fr/un/chemin/vraiment/très/long/vers/un/document-de-synthèse";
        let lines = wrap(url, Font::Regular, 10.0, 120.0, 120.0);
        assert_fits(&lines, Font::Regular, 10.0, 120.0, 120.0);
        assert!(lines[1].ends_with('/'), "cut after a slash: {:?}", lines[1]);
    }

    #[test]
    fn cutting_a_huge_word_takes_linear_time() {
        // Counted in advances looked up, not in seconds: a quadratic cut would look each
        // character up once per line before it (about 20,000 lines here).
        let word = "a".repeat(2_000_000);
        LOOKUPS.with(|n| n.set(0));
        let lines = wrap(&word, Font::Regular, 10.0, 480.0, 480.0);
        assert_eq!(lines.iter().map(String::len).sum::<usize>(), word.len());
        let lookups = LOOKUPS.with(|n| n.get());
        assert!(lookups <= 3 * word.len() as u64, "{lookups} advances looked up for {} characters", word.len());
    }

    #[test]
    fn non_breaking_spaces_hold_words_together() {
        let text = "il a dit\u{A0}: «\u{202F}oui\u{202F}»";
        let lines = wrap(text, Font::Regular, 10.0, 60.0, 60.0);
        assert_eq!(lines.last().unwrap(), "«\u{202F}oui\u{202F}»");
    }

    #[test]
    fn degenerate_widths_do_not_hang_or_panic() {
        for width in [0.0, -5.0, f32::NAN, 1.0] {
            let lines = wrap("abc dé", Font::Regular, 10.0, width, width);
            assert_eq!(lines.concat(), "abcdé");
        }
        assert!(wrap("abc", Font::Regular, 0.0, 100.0, 100.0).len() == 1);
        assert!(wrap("abc", Font::Regular, f32::INFINITY, 100.0, 100.0).len() == 3);
    }

    #[test]
    fn truncation_adds_an_ellipsis_within_the_width() {
        let name = "Établissement d’hébergement pour personnes âgées dépendantes Les Tilleuls";
        let short = truncate(name, Font::Regular, 9.0, 150.0);
        assert!(text_width(&short, Font::Regular, 9.0) <= 150.0);
        assert!(short.ends_with('…') && name.starts_with(short.trim_end_matches('…')));
        assert_eq!(truncate("Court", Font::Regular, 9.0, 150.0), "Court");
    }
}
