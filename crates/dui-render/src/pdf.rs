//! Writing laid-out pages as a PDF/A-2b file: the fonts embedded as subsets, uncompressed
//! content streams, a header and a footer on every page, a classic cross-reference table, and a
//! file identifier derived from the content.

use chrono::{DateTime, Utc};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use sha2::{Digest, Sha256};

use crate::embed::Embedding;
use crate::flow::{MARGIN, MUTED, Op, PAGE_HEIGHT, PAGE_WIDTH, RULE, Style, TEXT_WIDTH};
use crate::font::Font;
use crate::layout::{text_width, truncate};
use crate::pdfa::{self, Description};
use crate::text::shown;

const HEADER: Style = Style { font: Font::Regular, size: 8.5, color: MUTED };
const HEADER_BOLD: Style = Style { font: Font::Bold, size: 8.5, color: MUTED };
const HEADER_BASELINE: f32 = PAGE_HEIGHT - 40.0;
const FOOTER_BASELINE: f32 = 36.0;

/// What frames every page.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Top left (the establishment).
    pub header_left: String,
    /// Top right (the kind of document).
    pub header_right: String,
    /// Bottom left (whose document, when printed); "page n / N" goes bottom right.
    pub footer_left: String,
    /// Document information.
    pub title: String,
    pub created: DateTime<Utc>,
}

/// Two decimals are plenty for positions on a page, and keep the content streams readable.
fn round(value: f32) -> f32 {
    (value * 100.0).round() / 100.0
}

fn draw(content: &mut Content, op: &Op, fonts: &mut [Embedding; 2]) {
    match op {
        Op::Text { x, y, style, text } => {
            let super::flow::Color(r, g, b) = style.color;
            let shown = fonts[style.font as usize].encode(text);
            content
                .begin_text()
                .set_font(Name(style.font.resource_name()), style.size)
                .set_fill_rgb(r, g, b)
                .next_line(round(*x), round(*y))
                .show(Str(&shown))
                .end_text();
        }
        Op::Rule { x1, x2, y, width, color } => {
            content
                .set_stroke_rgb(color.0, color.1, color.2)
                .set_line_width(*width)
                .move_to(round(*x1), round(*y))
                .line_to(round(*x2), round(*y))
                .stroke();
        }
        Op::Fill { x, y, width, height, color } => {
            content
                .set_fill_rgb(color.0, color.1, color.2)
                .rect(round(*x), round(*y), round(*width), round(*height))
                .fill_nonzero();
        }
    }
}

/// A left text and a right-aligned one on one baseline, the left one shortened to leave room.
fn left_and_right(left: &str, right: &str, left_style: Style, right_style: Style, baseline: f32) -> [Op; 2] {
    let right = truncate(&shown(right, right_style.font), right_style.font, right_style.size, TEXT_WIDTH / 2.0);
    let right_width = text_width(&right, right_style.font, right_style.size);
    let left =
        truncate(&shown(left, left_style.font), left_style.font, left_style.size, TEXT_WIDTH - right_width - 18.0);
    [
        Op::Text { x: MARGIN, y: baseline, style: left_style, text: left },
        Op::Text { x: MARGIN + TEXT_WIDTH - right_width, y: baseline, style: right_style, text: right },
    ]
}

fn header_and_footer(frame: &Frame, number: usize, count: usize) -> Vec<Op> {
    let rule = |y| Op::Rule { x1: MARGIN, x2: MARGIN + TEXT_WIDTH, y, width: 0.5, color: RULE };
    let mut ops = Vec::with_capacity(6);
    ops.extend(left_and_right(&frame.header_left, &frame.header_right, HEADER_BOLD, HEADER, HEADER_BASELINE));
    ops.push(rule(HEADER_BASELINE - 7.0));
    ops.push(rule(FOOTER_BASELINE + 13.0));
    let page = format!("page {number} / {count}");
    ops.extend(left_and_right(&frame.footer_left, &page, HEADER, HEADER, FOOTER_BASELINE));
    ops
}

/// The PDF file of `pages` (at least one page is written, blank if need be).
pub(crate) fn write(pages: Vec<Vec<Op>>, frame: &Frame) -> Vec<u8> {
    let mut pages = pages;
    if pages.is_empty() {
        pages.push(Vec::new());
    }
    let count = pages.len();

    // The content streams first: they tell which glyphs of which font the document shows.
    let mut fonts = Font::ALL.map(Embedding::new);
    let contents: Vec<Vec<u8>> = pages
        .iter()
        .enumerate()
        .map(|(index, ops)| {
            let mut content = Content::new();
            for op in header_and_footer(frame, index + 1, count).iter().chain(ops) {
                draw(&mut content, op, &mut fonts);
            }
            content.finish().into_vec()
        })
        .collect();

    let mut next = Ref::new(1);
    let refs = pdfa::Refs::bump(&mut next);
    let page_refs: Vec<(Ref, Ref)> = (0..count).map(|_| (next.bump(), next.bump())).collect();

    let mut pdf = Pdf::new();
    let description =
        Description { title: &frame.title, producer: "dui-render", language: "fr-FR", created: frame.created };
    pdfa::write(&mut pdf, refs, &description);
    pdf.pages(refs.pages).kids(page_refs.iter().map(|(page, _)| *page)).count(i32::try_from(count).unwrap_or(i32::MAX));

    // The file identifier: a digest of what the document shows and says, the same for the same
    // document (PDF/A requires one; no clock, no random number).
    let mut digest = Sha256::new();
    digest.update(pdfa::xmp(&description));
    for content in &contents {
        digest.update(content);
    }
    let mut used = Vec::new();
    for font in fonts.iter().filter(|f| f.is_used()) {
        let (id, program) = font.write(&mut pdf, &mut next);
        digest.update(program);
        used.push((font.font(), id));
    }
    let id = digest.finalize()[..16].to_vec();
    pdf.set_file_id((id.clone(), id));

    for (content, (page_id, content_id)) in contents.iter().zip(&page_refs) {
        let mut page = pdf.page(*page_id);
        page.parent(refs.pages).media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).contents(*content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (font, id) in &used {
            font_dict.pair(Name(font.resource_name()), *id);
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        pdf.stream(*content_id, content);
    }
    pdf.finish()
}
