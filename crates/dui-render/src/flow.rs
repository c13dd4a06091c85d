//! Text flowing down A4 pages: a cursor that places wrapped lines and starts a new page when the
//! current one is full. The result is a list of drawing operations per page, written out by
//! [`crate::pdf`], which adds the header and footer once the number of pages is known.

use crate::font::Font;
use crate::layout::{text_width, truncate, wrap};
use crate::text::shown;

/// A4, in points.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
/// 20 mm on each side.
pub(crate) const MARGIN: f32 = 56.69;
pub(crate) const TEXT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
/// The body sits between the header (above) and the footer (below).
pub(crate) const BODY_TOP: f32 = PAGE_HEIGHT - 76.0;
pub(crate) const BODY_BOTTOM: f32 = 68.0;

/// Line height, as a multiple of the font size.
const LEADING: f32 = 1.35;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Color(pub f32, pub f32, pub f32);

pub(crate) const INK: Color = Color(0.1, 0.1, 0.1);
pub(crate) const MUTED: Color = Color(0.38, 0.38, 0.38);
pub(crate) const ACCENT: Color = Color(0.1, 0.24, 0.47);
pub(crate) const ALERT: Color = Color(0.7, 0.05, 0.05);
pub(crate) const ALERT_BACKGROUND: Color = Color(0.99, 0.9, 0.9);
pub(crate) const RULE: Color = Color(0.7, 0.7, 0.7);

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Style {
    pub font: Font,
    pub size: f32,
    pub color: Color,
}

impl Style {
    const fn line_height(self) -> f32 {
        self.size * LEADING
    }
}

pub(crate) const BODY: Style = Style { font: Font::Regular, size: 10.5, color: INK };
pub(crate) const BODY_BOLD: Style = Style { font: Font::Bold, size: 10.5, color: INK };
pub(crate) const NOTE: Style = Style { font: Font::Regular, size: 9.5, color: MUTED };
pub(crate) const TITLE: Style = Style { font: Font::Bold, size: 20.0, color: ACCENT };
pub(crate) const HEADING: Style = Style { font: Font::Bold, size: 13.5, color: ACCENT };
pub(crate) const SUBHEADING: Style = Style { font: Font::Bold, size: 11.0, color: INK };
pub(crate) const BANNER: Style = Style { font: Font::Bold, size: 12.0, color: ALERT };

/// One drawing operation; coordinates in points from the bottom left corner of the page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Text made of characters its font has (see [`shown`]), `y` being its baseline.
    Text { x: f32, y: f32, style: Style, text: String },
    /// A horizontal rule.
    Rule { x1: f32, x2: f32, y: f32, width: f32, color: Color },
    /// A filled rectangle.
    Fill { x: f32, y: f32, width: f32, height: f32, color: Color },
}

#[derive(Debug)]
pub(crate) struct Flow {
    pages: Vec<Vec<Op>>,
    /// Top of the next line on the last page.
    y: f32,
}

impl Flow {
    pub(crate) fn new() -> Self {
        Self { pages: vec![Vec::new()], y: BODY_TOP }
    }

    fn at_page_top(&self) -> bool {
        self.y >= BODY_TOP
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    /// Starts a new page unless `height` points still fit on this one (or this one is empty).
    pub(crate) fn ensure(&mut self, height: f32) {
        if self.y - height < BODY_BOTTOM && !self.at_page_top() {
            self.pages.push(Vec::new());
            self.y = BODY_TOP;
        }
    }

    /// Keeps what follows together on one page when it is about `lines` lines of body text high
    /// (and fits on a page), with a little space above it.
    pub(crate) fn keep(&mut self, lines: usize) {
        self.ensure(lines as f32 * BODY.line_height() + 6.0);
    }

    /// Vertical space, none at the top of a page.
    pub(crate) fn space(&mut self, height: f32) {
        if !self.at_page_top() {
            self.y = (self.y - height).max(BODY_BOTTOM);
        }
    }

    /// Places one line made of pieces that share a baseline: (x, style, text).
    fn line(&mut self, pieces: Vec<(f32, Style, String)>) {
        let size = pieces.iter().map(|(_, style, _)| style.size).fold(0.0, f32::max);
        let height = size * LEADING;
        self.ensure(height);
        let baseline = self.y - size;
        for (x, style, text) in pieces {
            if !text.is_empty() {
                self.push(Op::Text { x, y: baseline, style, text });
            }
        }
        self.y -= height;
    }

    /// Text in `style`, indented by `indent`; each line of `text` is a paragraph, an empty line
    /// leaves a half-line of space.
    pub(crate) fn paragraph(&mut self, text: &str, style: Style, indent: f32) {
        self.hanging(text, style, indent, Vec::new(), 0.0, indent);
    }

    /// Text whose first line starts with `lead` (pieces at x offsets from `indent`), the text
    /// itself then starting `lead_width` after `indent`; the other lines start at `rest_indent`.
    fn hanging(
        &mut self,
        text: &str,
        style: Style,
        indent: f32,
        lead: Vec<(f32, Style, String)>,
        lead_width: f32,
        rest_indent: f32,
    ) {
        let place = |lead: Vec<(f32, Style, String)>| -> Vec<(f32, Style, String)> {
            lead.into_iter().map(|(x, s, t)| (MARGIN + indent + x, s, t)).collect()
        };
        let mut lead = Some(lead).filter(|l| !l.is_empty());
        for source_line in text.lines() {
            let source_line = shown(source_line, style.font);
            let first_width = if lead.is_some() { TEXT_WIDTH - indent - lead_width } else { TEXT_WIDTH - rest_indent };
            let lines = wrap(&source_line, style.font, style.size, first_width, TEXT_WIDTH - rest_indent);
            if lines.is_empty() && lead.is_none() {
                self.space(style.line_height() / 2.0);
                continue;
            }
            let mut lines = lines.into_iter();
            if let Some(lead) = lead.take() {
                let mut pieces = place(lead);
                if let Some(first) = lines.next() {
                    pieces.push((MARGIN + indent + lead_width, style, first));
                }
                self.line(pieces);
            }
            for line in lines {
                self.line(vec![(MARGIN + rest_indent, style, line)]);
            }
        }
        // A lead with no text at all still shows.
        if let Some(lead) = lead {
            self.line(place(lead));
        }
    }

    /// A bulleted item at `indent`, its lines aligned after the bullet.
    pub(crate) fn bullet(&mut self, text: &str, style: Style, indent: f32) {
        let hang = style.size * 1.1;
        self.hanging(text, style, indent, vec![(0.0, style, "•".to_owned())], hang, indent + hang);
    }

    /// "Label : value", the label in bold, the value's lines aligned after the label.
    pub(crate) fn labelled(&mut self, label: &str, value: &str, indent: f32) {
        let label = shown(&format!("{label}\u{A0}: "), BODY_BOLD.font);
        let label_width = text_width(&label, BODY_BOLD.font, BODY_BOLD.size);
        // A label wider than a third of the line leaves the value's next lines at the indent.
        let hang = if label_width < TEXT_WIDTH / 3.0 { label_width } else { 0.0 };
        self.hanging(value, BODY, indent, vec![(0.0, BODY_BOLD, label)], label_width, indent + hang);
    }

    /// A section heading, underlined, kept on the page of what follows it.
    pub(crate) fn heading(&mut self, text: &str) {
        self.space(16.0);
        self.ensure(HEADING.line_height() + 6.0 + 2.0 * BODY.line_height());
        self.paragraph(text, HEADING, 0.0);
        let y = self.y + 1.0;
        self.push(Op::Rule { x1: MARGIN, x2: MARGIN + TEXT_WIDTH, y, width: 0.6, color: ACCENT });
        self.space(6.0);
    }

    /// A heading within a section, kept with the line that follows it.
    pub(crate) fn subheading(&mut self, text: &str, indent: f32) {
        self.space(5.0);
        self.ensure(SUBHEADING.line_height() + BODY.line_height());
        self.paragraph(text, SUBHEADING, indent);
    }

    /// A framed, centred warning across the text width.
    pub(crate) fn banner(&mut self, text: &str) {
        let height = BANNER.size * 2.2;
        self.ensure(height);
        let top = self.y;
        self.push(Op::Fill { x: MARGIN, y: top - height, width: TEXT_WIDTH, height, color: ALERT_BACKGROUND });
        let text = truncate(&shown(text, BANNER.font), BANNER.font, BANNER.size, TEXT_WIDTH - 12.0);
        let x = MARGIN + (TEXT_WIDTH - text_width(&text, BANNER.font, BANNER.size)) / 2.0;
        let baseline = top - height / 2.0 - BANNER.size * 0.35;
        self.push(Op::Text { x, y: baseline, style: BANNER, text });
        self.y = top - height;
        self.space(12.0);
    }

    pub(crate) fn finish(self) -> Vec<Vec<Op>> {
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pages: &[Vec<Op>]) -> Vec<(usize, f32, f32, Style, String)> {
        let mut out = Vec::new();
        for (n, page) in pages.iter().enumerate() {
            for op in page {
                if let Op::Text { x, y, style, text } = op {
                    out.push((n, *x, *y, *style, text.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn text_stays_inside_the_body_and_breaks_pages() {
        let mut flow = Flow::new();
        flow.heading("Attentes de la personne");
        let long = "Une phrase assez longue pour occuper une bonne partie de la ligne. ".repeat(300);
        flow.paragraph(&long, BODY, 0.0);
        flow.labelled("Fréquence", &"chaque jour ".repeat(100), 20.0);
        flow.bullet(&"soin ".repeat(200), BODY, 10.0);
        let pages = flow.finish();
        assert!(pages.len() > 3, "{} pages", pages.len());
        for (_, x, y, style, text) in texts(&pages) {
            assert!((BODY_BOTTOM..=BODY_TOP).contains(&y), "baseline {y}");
            assert!(x >= MARGIN);
            let right = x + text_width(&text, style.font, style.size);
            assert!(right <= MARGIN + TEXT_WIDTH + 1e-2, "line ends at {right}");
        }
    }

    #[test]
    fn labels_and_bullets_share_the_baseline_of_their_first_line() {
        let mut flow = Flow::new();
        flow.labelled("Qui", "Infirmier(ère)", 0.0);
        flow.bullet("Aide au lever", BODY, 0.0);
        flow.labelled("Vide", "", 0.0);
        let texts = texts(&flow.finish());
        assert_eq!(texts.len(), 5);
        assert_eq!(texts[0].2, texts[1].2);
        assert_eq!(texts[0].4, "Qui\u{A0}: ");
        assert_eq!(texts[2].2, texts[3].2);
        assert_eq!(texts[2].4, "•");
        assert_eq!(texts[4].4, "Vide\u{A0}: ");
    }

    #[test]
    fn a_heading_is_not_left_alone_at_the_bottom_of_a_page() {
        let mut flow = Flow::new();
        while flow.y - BODY_BOTTOM > 30.0 {
            flow.paragraph("ligne", BODY, 0.0);
        }
        flow.heading("Objectifs");
        flow.paragraph("Premier objectif", BODY, 0.0);
        let pages = flow.finish();
        assert_eq!(pages.len(), 2);
        assert!(matches!(&pages[1][0], Op::Text { text, .. } if text == "Objectifs"));
    }
}
