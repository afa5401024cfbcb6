//! The documents agencies issue — a birth certificate, a report card, a licence — as a plain,
//! one-page A4 PDF: a heading with the issuing agency, a title, labelled fields, paragraphs and
//! a QR code pointing at the public verification page.
//!
//! The PDF is built from typed values (never from user-supplied PDF syntax) with `lopdf`, so a
//! field value can only ever be text on the page. It is deterministic for the same input and
//! `now`, and it is what the agency then seals (`relying_party_sdk::signing::SigningClient::seal_pdf`)
//! so that anyone can verify it with an ordinary PDF reader.
//!
//! Text uses the standard Helvetica fonts in WinAnsiEncoding: Latin text renders as is; a
//! character outside that encoding (Dzongkha script, for example) is written as `?` — embedding
//! a Dzongkha font is future work, and the verification page shows the exact record.

use lopdf::{
    Dictionary, Document, Object, Stream,
    content::{Content, Operation},
    dictionary,
};

use crate::{Error, Result};

/// A4 in points.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
/// Characters per line of a paragraph at 11 pt (Helvetica averages about half an em).
const WRAP: usize = 88;
/// The most text a document takes: more is a caller's mistake, refused rather than cut off.
const MAX_LINES: usize = 48;

enum Block {
    Field(String, String),
    Paragraph(String),
}

/// A one-page document to issue.
pub struct PdfDocument {
    agency: String,
    title: String,
    blocks: Vec<Block>,
    qr: Option<String>,
}

impl PdfDocument {
    /// A document issued by `agency` with `title`.
    pub fn new(agency: &str, title: &str) -> Self {
        Self { agency: agency.to_string(), title: title.to_string(), blocks: Vec::new(), qr: None }
    }

    /// A labelled value ("Name of child: Dorji Wangmo").
    pub fn field(mut self, label: &str, value: &str) -> Self {
        self.blocks.push(Block::Field(label.to_string(), value.to_string()));
        self
    }

    /// A paragraph, wrapped at word boundaries.
    pub fn paragraph(mut self, text: &str) -> Self {
        self.blocks.push(Block::Paragraph(text.to_string()));
        self
    }

    /// A QR code for `url` (the public verification page), with the URL printed under it.
    pub fn qr(mut self, url: &str) -> Self {
        self.qr = Some(url.to_string());
        self
    }

    /// The PDF, with `now` (Unix seconds) as its creation date.
    pub fn render(&self, now: i64) -> Result<Vec<u8>> {
        let mut ops = Vec::new();
        let mut y = HEIGHT - MARGIN;
        text(&mut ops, "F2", 10.0, MARGIN, y, &self.agency);
        y -= 14.0;
        text(&mut ops, "F1", 9.0, MARGIN, y, "Royal Government of Bhutan - issued through Drukyul ID");
        y -= 36.0;
        text(&mut ops, "F2", 18.0, MARGIN, y, &self.title);
        y -= 30.0;
        let mut lines = 0;
        for block in &self.blocks {
            match block {
                Block::Field(label, value) => {
                    text(&mut ops, "F2", 11.0, MARGIN, y, &format!("{label}:"));
                    for (i, line) in wrap(value, WRAP - 30).iter().enumerate() {
                        text(&mut ops, "F1", 11.0, MARGIN + 170.0, y, line);
                        if i > 0 {
                            lines += 1;
                        }
                        y -= 16.0;
                    }
                }
                Block::Paragraph(p) => {
                    y -= 6.0;
                    for line in wrap(p, WRAP) {
                        text(&mut ops, "F1", 11.0, MARGIN, y, &line);
                        y -= 15.0;
                        lines += 1;
                    }
                }
            }
            lines += 1;
            if lines > MAX_LINES {
                return Err(Error::BadRequest("the document is longer than one page".into()));
            }
        }
        if let Some(url) = &self.qr {
            let code = qrcode::QrCode::new(url.as_bytes())
                .map_err(|e| Error::BadRequest(format!("the verification URL does not fit a QR code: {e}")))?;
            let n = code.width();
            let module = 120.0 / n as f32;
            let (x0, y0) = (MARGIN, MARGIN + 30.0);
            ops.push(Operation::new("rg", vec![0.into(), 0.into(), 0.into()]));
            for (i, dark) in code.to_colors().iter().enumerate() {
                if *dark == qrcode::Color::Dark {
                    let (col, row) = ((i % n) as f32, (i / n) as f32);
                    let rect = [x0 + col * module, y0 + (n as f32 - 1.0 - row) * module, module, module];
                    ops.push(Operation::new("re", rect.iter().map(|v| Object::Real(*v)).collect()));
                }
            }
            ops.push(Operation::new("f", vec![]));
            text(&mut ops, "F1", 8.0, MARGIN, MARGIN + 16.0, &format!("Verify: {url}"));
        }
        let content = Content { operations: ops }.encode().map_err(|e| Error::Internal(format!("PDF content: {e}")))?;

        let mut doc = Document::with_version("1.7");
        let pages_id = doc.new_object_id();
        let font = |base: &str| -> Dictionary {
            dictionary! {
                "Type" => "Font",
                "Subtype" => "Type1",
                "BaseFont" => Object::Name(base.as_bytes().to_vec()),
                "Encoding" => "WinAnsiEncoding",
            }
        };
        let f1 = doc.add_object(font("Helvetica"));
        let f2 = doc.add_object(font("Helvetica-Bold"));
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(WIDTH), Object::Real(HEIGHT)],
            "Contents" => content_id,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => f1, "F2" => f2 } },
        });
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        let info = doc.add_object(dictionary! {
            "Title" => Object::string_literal(win_ansi(&self.title)),
            "Author" => Object::string_literal(win_ansi(&self.agency)),
            "Producer" => "Drukyul ID agency kit",
            "CreationDate" => Object::string_literal(pdf_date(now)),
        });
        doc.trailer.set("Root", catalog);
        doc.trailer.set("Info", info);
        let mut out = Vec::new();
        doc.save_to(&mut out).map_err(|e| Error::Internal(format!("PDF: {e}")))?;
        Ok(out)
    }
}

fn text(ops: &mut Vec<Operation>, font: &str, size: f32, x: f32, y: f32, s: &str) {
    ops.push(Operation::new("BT", vec![]));
    ops.push(Operation::new("Tf", vec![Object::Name(font.as_bytes().to_vec()), Object::Real(size)]));
    ops.push(Operation::new("Td", vec![Object::Real(x), Object::Real(y)]));
    ops.push(Operation::new("Tj", vec![Object::string_literal(win_ansi(s))]));
    ops.push(Operation::new("ET", vec![]));
}

/// The text as WinAnsiEncoding bytes: Latin-1 printable characters as themselves, anything
/// else (control characters, other scripts) as `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) { c as u8 } else { b'?' })
        .collect()
}

fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in s.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// `D:YYYYMMDDHHmmSSZ` (PDF 32000-1 7.9.4).
fn pdf_date(now: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PdfDocument {
        PdfDocument::new("Department of Civil Registration and Census", "Birth certificate")
            .field("Name of child", "Dorji (Wangmo) \\ ) (")
            .field("Date of birth", "2026-11-01")
            .paragraph("This certificate was issued electronically and sealed by the Department.")
            .qr("https://services.gov.bt/certificates/BC-2026-000001")
    }

    #[test]
    fn renders_a_pdf_lopdf_reads_back_with_the_text_on_the_page() {
        let bytes = sample().render(1_790_000_000).unwrap();
        assert!(bytes.starts_with(b"%PDF-1.7"));
        let doc = Document::load_mem(&bytes).unwrap();
        let pages = doc.get_pages();
        assert_eq!(pages.len(), 1);
        let text = doc.extract_text(&[1]).unwrap();
        assert!(text.contains("Birth certificate"), "{text}");
        assert!(text.contains("Dorji (Wangmo) \\ ) ("), "parentheses and backslashes stay text: {text}");
        assert!(text.contains("Verify: https://services.gov.bt/certificates/BC-2026-000001"), "{text}");
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        assert_eq!(sample().render(1_790_000_000).unwrap(), sample().render(1_790_000_000).unwrap());
        assert_ne!(sample().render(1_790_000_000).unwrap(), sample().render(1_790_000_001).unwrap());
    }

    #[test]
    fn other_scripts_become_question_marks_and_too_much_text_is_refused() {
        assert_eq!(win_ansi("Tashi \u{0f56}\u{0f40} é"), b"Tashi ?? \xe9".to_vec());
        let mut long = PdfDocument::new("A", "B");
        for i in 0..60 {
            long = long.field("Line", &i.to_string());
        }
        assert!(long.render(0).is_err());
    }
}
