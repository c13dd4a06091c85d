//! Writing laid-out pages as a PDF file: standard fonts, uncompressed content streams, a header
//! and a footer on every page, a classic cross-reference table.

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::flow::{MARGIN, MUTED, Op, PAGE_HEIGHT, PAGE_WIDTH, RULE, Style, TEXT_WIDTH};
use crate::layout::{Font, text_width, truncate};
use crate::winansi::encode;

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

fn draw(content: &mut Content, op: &Op) {
    match op {
        Op::Text { x, y, style, text } => {
            let super::flow::Color(r, g, b) = style.color;
            content
                .begin_text()
                .set_font(Name(style.font.resource_name()), style.size)
                .set_fill_rgb(r, g, b)
                .next_line(round(*x), round(*y))
                .show(Str(text))
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
    let right = truncate(&encode(right), right_style.font, right_style.size, TEXT_WIDTH / 2.0);
    let right_width = text_width(&right, right_style.font, right_style.size);
    let left = truncate(&encode(left), left_style.font, left_style.size, TEXT_WIDTH - right_width - 18.0);
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

fn pdf_date(at: DateTime<Utc>) -> Date {
    let two = |v: u32| u8::try_from(v).unwrap_or(0);
    Date::new(u16::try_from(at.year().clamp(0, 9999)).unwrap_or(0))
        .month(two(at.month()))
        .day(two(at.day()))
        .hour(two(at.hour()))
        .minute(two(at.minute()))
        .second(two(at.second()))
        .utc_offset_hour(0)
}

/// The PDF file of `pages` (at least one page is written, blank if need be).
pub(crate) fn write(pages: Vec<Vec<Op>>, frame: &Frame) -> Vec<u8> {
    let mut pages = pages;
    if pages.is_empty() {
        pages.push(Vec::new());
    }
    let count = pages.len();

    let mut next = Ref::new(1);
    let catalog = next.bump();
    let tree = next.bump();
    let info = next.bump();
    let fonts = [(Font::Regular, next.bump()), (Font::Bold, next.bump())];
    let page_refs: Vec<(Ref, Ref)> = (0..count).map(|_| (next.bump(), next.bump())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree).lang(TextStr("fr-FR"));
    pdf.pages(tree).kids(page_refs.iter().map(|(page, _)| *page)).count(i32::try_from(count).unwrap_or(i32::MAX));
    for (font, id) in fonts {
        pdf.type1_font(id).base_font(Name(font.base_font())).encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr(&frame.title))
        .producer(TextStr("dui-render"))
        .creation_date(pdf_date(frame.created));

    for (index, (ops, (page_id, content_id))) in pages.iter().zip(&page_refs).enumerate() {
        let mut page = pdf.page(*page_id);
        page.parent(tree).media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).contents(*content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (font, id) in fonts {
            font_dict.pair(Name(font.resource_name()), id);
        }
        font_dict.finish();
        resources.finish();
        page.finish();

        let mut content = Content::new();
        for op in header_and_footer(frame, index + 1, count).iter().chain(ops) {
            draw(&mut content, op);
        }
        pdf.stream(*content_id, content.finish().as_slice());
    }
    pdf.finish()
}
