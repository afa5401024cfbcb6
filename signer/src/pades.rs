//! PAdES: a signature field in a PDF, the digest of its byte range, and the CMS put back in.
//!
//! The signing service only signs digests, so a PDF is signed in three steps, of which only the
//! middle one needs the citizen:
//!
//! ```text
//! pdf ──► prepare(pdf, &field, signing_time) ──► Prepared { bytes, byte_range, digest }
//!                                                  │ digest: what the citizen approves
//!                                                  ▼
//!        CmsSigner::for_pades().sign_digest(digest) (+ signature timestamp for B-T) ──► CMS DER
//!                                                  │
//!                                  embed(&prepared, cms) ──► signed PDF (PAdES B-B / B-T)
//! ```
//!
//! [`prepare`] appends an *incremental update* (ISO 32000-1 7.5.6) to the document: the original
//! bytes are kept as they are (an earlier signature on them stays valid, and anyone can check
//! that what was signed is what they sent), followed by a signature dictionary, a merged
//! signature field and invisible widget on page 1, the updated page, catalog / AcroForm, a
//! cross-reference section and a trailer. The signature dictionary's `/Contents` is a zero-filled
//! hex string of the reserved size and its `/ByteRange` covers the whole file except that string,
//! so the digest is final before the CMS exists. [`embed`] then writes the CMS's hex into the
//! placeholder and changes nothing else, which keeps the digest valid.
//!
//! ## Which PDFs
//! The input is parsed with `lopdf`: classic cross-reference tables, cross-reference streams and
//! object streams, and documents that already have incremental updates (including earlier
//! signatures). The update uses the same kind of cross-reference section as the input's last one
//! (a table after a table, a stream after a stream), as ISO 32000-1 7.5.8.4 expects of readers
//! that only know one of them. Refused: encrypted documents, documents whose cross-reference
//! had to be rebuilt by scanning (an incremental update needs a trustworthy `/Prev`), documents
//! without a page, and files of 4 GiB or more (lopdf writes 32-bit offsets).
//!
//! ## What the signature dictionary says
//! `/Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached` (ETSI EN 319 142-1: a PAdES
//! baseline signature), `/M` the signing time (PAdES puts the claimed time here, not in the CMS —
//! hence [`crate::cms::CmsSigner::for_pades`]), and `/Reason`, `/Location` and `/Name` when given.

use std::io::Write as _;

use ::cms::signed_data::SignedData;
use der::asn1::OctetString;
use der::oid::db::rfc5911::ID_MESSAGE_DIGEST;
use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, StringFormat};
use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::signed_data::parse_content_info;

/// Room reserved for the CMS unless the caller says otherwise: 16 KiB holds a P-256 signature
/// with the signer's and issuing CA's certificates and an RFC 3161 token (about 4 KiB together)
/// with plenty to spare for longer chains or a foreign TSA.
pub const DEFAULT_RESERVED_BYTES: usize = 16 * 1024;

/// The most that can be reserved: a CMS larger than this is not a signature but a mistake, and
/// every byte reserved is written (twice, as hex) into every signed document.
pub const MAX_RESERVED_BYTES: usize = 1024 * 1024;

/// The longest field name, reason, location or signer name accepted (ISO 32000-1 C.1 gives
/// 32,767 bytes for a string; nothing shown to a person needs more than this).
const MAX_TEXT_CHARS: usize = 512;

/// The digits of the `/ByteRange` placeholder: ten per offset, so any file under 10 GB fits when
/// the real values are written over it, padded with spaces.
const BYTE_RANGE_PLACEHOLDER: i64 = 9_999_999_999;

/// What the signature field and its signature dictionary say, and how much room the CMS gets.
#[derive(Clone, Debug)]
pub struct SignatureField {
    name: String,
    reason: Option<String>,
    location: Option<String>,
    signer_name: Option<String>,
    reserved_bytes: usize,
}

impl SignatureField {
    /// A field called `name` (its partial name `/T`): non-empty, at most 512 characters, without
    /// a period (ISO 32000-1 12.7.3.2: periods separate the parts of a fully qualified name) or
    /// control characters.
    pub fn new(name: &str) -> Result<Self> {
        check_text("field name", name)?;
        if name.contains('.') {
            return Err(Error::InvalidSignatureField { field: "field name", reason: "contains a period" });
        }
        Ok(Self {
            name: name.to_owned(),
            reason: None,
            location: None,
            signer_name: None,
            reserved_bytes: DEFAULT_RESERVED_BYTES,
        })
    }

    /// `/Reason`: why the document is signed, as readers show it ("Approved", ...).
    pub fn with_reason(mut self, reason: &str) -> Result<Self> {
        check_text("reason", reason)?;
        self.reason = Some(reason.to_owned());
        Ok(self)
    }

    /// `/Location`: where it was signed, as readers show it.
    pub fn with_location(mut self, location: &str) -> Result<Self> {
        check_text("location", location)?;
        self.location = Some(location.to_owned());
        Ok(self)
    }

    /// `/Name`: the signer's name as readers show it before they look at the certificate.
    pub fn with_signer_name(mut self, name: &str) -> Result<Self> {
        check_text("signer name", name)?;
        self.signer_name = Some(name.to_owned());
        Ok(self)
    }

    /// How many bytes of CMS the placeholder holds (default [`DEFAULT_RESERVED_BYTES`]; from 1
    /// to [`MAX_RESERVED_BYTES`]). Too little and [`embed`] refuses the signature; the document
    /// then has to be prepared, approved and signed again.
    pub fn with_reserved_bytes(mut self, reserved_bytes: usize) -> Result<Self> {
        if reserved_bytes == 0 || reserved_bytes > MAX_RESERVED_BYTES {
            return Err(Error::InvalidSignatureField { field: "reserved bytes", reason: "is not between 1 and 1 MiB" });
        }
        self.reserved_bytes = reserved_bytes;
        Ok(self)
    }
}

/// A PDF with an empty signature, waiting for the CMS over [`Prepared::digest`].
///
/// Keep it (for example [`Prepared::as_bytes`] in storage, read back with
/// [`Prepared::from_bytes`]) while the citizen approves the digest.
#[derive(Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    byte_range: [usize; 4],
    digest: Sha256Digest,
}

impl core::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Prepared")
            .field("len", &self.bytes.len())
            .field("byte_range", &self.byte_range)
            .field("digest", &self.digest)
            .finish()
    }
}

impl Prepared {
    /// The prepared PDF: the original bytes, then the update with the zero-filled placeholder.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `/ByteRange`: `[0, a, b, c]`, the signed bytes being `0..a` and `b..b+c`; `a..b` is
    /// the `/Contents` hex string with its angle brackets.
    pub fn byte_range(&self) -> [usize; 4] {
        self.byte_range
    }

    /// SHA-256 over the two signed ranges: the digest to sign (the CMS message-digest).
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// How many bytes of CMS fit in the placeholder.
    pub fn reserved_bytes(&self) -> usize {
        (self.byte_range[2] - self.byte_range[1] - 2) / 2
    }

    /// Reads back a prepared PDF kept while waiting for the signature: its last `/ByteRange`
    /// must start at 0, end at the end of the file, and leave out exactly a zero-filled hex
    /// string. Anything else (a signed or altered file) is refused.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let byte_range =
            last_byte_range(&bytes).map_err(|_| Error::UnsupportedPdf("not a PDF prepared for signing"))?;
        let [start, a, b, c] = byte_range;
        let placeholder = bytes.get(a..b).ok_or(Error::UnsupportedPdf("/ByteRange outside the file"))?;
        let zeros = placeholder.get(1..placeholder.len().saturating_sub(1)).unwrap_or_default();
        let well_formed = start == 0
            && b.checked_add(c) == Some(bytes.len())
            && placeholder.len() >= 4
            && placeholder.first() == Some(&b'<')
            && placeholder.last() == Some(&b'>')
            && zeros.len() % 2 == 0
            && zeros.iter().all(|&z| z == b'0');
        if !well_formed {
            return Err(Error::UnsupportedPdf("not a PDF prepared for signing"));
        }
        let digest = range_digest(&bytes, a, b);
        Ok(Self { bytes, byte_range, digest })
    }
}

/// The last `/ByteRange` of a PDF.
fn last_byte_range(bytes: &[u8]) -> Result<[usize; 4]> {
    let at = rfind(bytes, b"/ByteRange").ok_or(Error::UnsupportedPdf("no signature (/ByteRange) in this PDF"))?;
    let rest = bytes.get(at + b"/ByteRange".len()..).ok_or(Error::UnsupportedPdf("truncated /ByteRange"))?;
    let open = rest.iter().position(|b| !b.is_ascii_whitespace()).filter(|&i| rest[i] == b'[');
    let open = open.ok_or(Error::UnsupportedPdf("malformed /ByteRange"))?;
    let close = rest.iter().position(|&b| b == b']').ok_or(Error::UnsupportedPdf("malformed /ByteRange"))?;
    let inner = rest.get(open + 1..close).ok_or(Error::UnsupportedPdf("malformed /ByteRange"))?;
    let numbers: Vec<usize> = core::str::from_utf8(inner)
        .map_err(|_| Error::UnsupportedPdf("malformed /ByteRange"))?
        .split_ascii_whitespace()
        .map(str::parse)
        .collect::<core::result::Result<_, _>>()
        .map_err(|_| Error::UnsupportedPdf("malformed /ByteRange"))?;
    numbers.try_into().map_err(|_| Error::UnsupportedPdf("a /ByteRange has four numbers"))
}

/// The last signature of a signed PDF, as a verifier needs it: the CMS (DER, without the
/// placeholder's zero padding) and the SHA-256 of the bytes it covers.
///
/// Refuses a last signature that does not cover the whole file except its own `/Contents`
/// (`/ByteRange [0 a b c]` with `b + c` the file's length): bytes appended after the
/// signature — a later edit — would otherwise pass unnoticed. Whether the CMS really signs
/// that digest is the verifier's to decide ([`crate::verify::Verifier::verify`]).
pub fn signed_parts(pdf: &[u8]) -> Result<(Vec<u8>, Sha256Digest)> {
    let [start, a, b, c] = last_byte_range(pdf)?;
    let contents = pdf.get(a..b).ok_or(Error::UnsupportedPdf("/ByteRange outside the file"))?;
    if start != 0 || b.checked_add(c) != Some(pdf.len()) || a >= b {
        return Err(Error::UnsupportedPdf("the last signature does not cover the whole document"));
    }
    let hex = match contents {
        [b'<', hex @ .., b'>'] if hex.len() % 2 == 0 => hex,
        _ => return Err(Error::UnsupportedPdf("the signature's /Contents is not a hex string")),
    };
    let nibble = |h: u8| match h {
        b'0'..=b'9' => Ok(h - b'0'),
        b'a'..=b'f' => Ok(h - b'a' + 10),
        b'A'..=b'F' => Ok(h - b'A' + 10),
        _ => Err(Error::UnsupportedPdf("the signature's /Contents is not a hex string")),
    };
    let mut der = hex.chunks_exact(2).map(|p| Ok(nibble(p[0])? << 4 | nibble(p[1])?)).collect::<Result<Vec<u8>>>()?;
    // The placeholder is zero-padded after the DER; keep the outer TLV only.
    let not_der = |_| Error::InvalidSignature("/Contents is not DER");
    let total = {
        use der::{Decode as _, Reader as _};
        let mut reader = der::SliceReader::new(&der).map_err(not_der)?;
        let header = der::Header::decode(&mut reader).map_err(not_der)?;
        (reader.position() + header.length()).map_err(not_der)?
    };
    let total = usize::try_from(total).map_err(not_der)?;
    if total > der.len() {
        return Err(Error::InvalidSignature("/Contents is truncated"));
    }
    der.truncate(total);
    Ok((der, range_digest(pdf, a, b)))
}

/// Adds a signature field named `field` to page 1 of `pdf`, with an empty signature whose
/// `/M` is `signing_time` (Unix seconds), as an incremental update; returns the result, its
/// byte range and the digest to sign.
///
/// The signing time goes in now because `/M` is inside the signed range; pass the same `now`
/// to [`crate::cms::CmsSigner::sign_digest`] so the certificate is checked at that time.
pub fn prepare(pdf: &[u8], field: &SignatureField, signing_time: i64) -> Result<Prepared> {
    if u32::try_from(pdf.len()).is_err() {
        return Err(Error::UnsupportedPdf("files of 4 GiB or more are not supported"));
    }
    let doc = Document::load_mem(pdf).map_err(|e| Error::InvalidPdf(e.to_string()))?;
    if doc.trailer.has(b"Encrypt") || doc.encryption_state.is_some() {
        return Err(Error::UnsupportedPdf("encrypted PDFs are not supported"));
    }
    if doc.xref_recovery.is_some() || doc.xref_start == 0 {
        return Err(Error::UnsupportedPdf("the cross-reference is damaged (it had to be rebuilt)"));
    }
    let root_id = doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(pdf_error)?;
    let page_id = *doc.get_pages().get(&1).ok_or(Error::UnsupportedPdf("the document has no page"))?;
    let catalog = doc.get_dictionary(root_id).map_err(pdf_error)?;

    // Where the field list lives: in an AcroForm object, inline in the catalog, or nowhere yet.
    let acroform_id = catalog.get(b"AcroForm").ok().and_then(|o| o.as_reference().ok());
    let acroform = match catalog.get(b"AcroForm") {
        Ok(object) => Some(doc.dereference(object).and_then(|(_, o)| o.as_dict()).map_err(pdf_error)?),
        Err(_) => None,
    };
    let fields_id = acroform.and_then(|a| a.get(b"Fields").ok()).and_then(|o| o.as_reference().ok());
    if let Some(fields) = acroform.and_then(|a| a.get(b"Fields").ok()) {
        let (_, fields) = doc.dereference(fields).map_err(pdf_error)?;
        for existing in fields.as_array().map_err(pdf_error)? {
            let name = doc.dereference(existing).and_then(|(_, f)| f.as_dict()).and_then(|f| f.get(b"T"));
            if name.is_ok_and(|t| text_equals(t, &field.name)) {
                return Err(Error::InvalidSignatureField {
                    field: "field name",
                    reason: "is already used in the document",
                });
            }
        }
    }
    let annots_id =
        doc.get_dictionary(page_id).map_err(pdf_error)?.get(b"Annots").ok().and_then(|o| o.as_reference().ok());
    let trailer = update_trailer(&doc);

    let mut update = IncrementalDocument::create_from(pdf.to_vec(), doc);
    update.new_document.trailer = trailer;
    let new = &mut update.new_document;

    let signature_id = new.try_new_object_id().map_err(pdf_error)?;
    let signature = signature_dictionary(field, signing_time)?;
    new.set_object(signature_id, signature.clone());
    let widget_id = new.try_add_object(widget(field, page_id, signature_id)).map_err(pdf_error)?;

    // Page 1 gets the widget in /Annots (an array in the page or an array object of its own).
    match annots_id {
        Some(id) => push_to_array_object(&mut update, id, widget_id)?,
        None => {
            update.opt_clone_object_to_new_document(page_id).map_err(pdf_error)?;
            let page = update.new_document.get_dictionary_mut(page_id).map_err(pdf_error)?;
            push_to_array_entry(page, b"Annots", widget_id)?;
        }
    }
    // The AcroForm gets the field in /Fields and /SigFlags 3 (SignaturesExist | AppendOnly:
    // ISO 32000-1 12.7.2, telling readers to save later changes incrementally).
    let acroform_dict: &mut Dictionary = match acroform_id {
        Some(id) => {
            update.opt_clone_object_to_new_document(id).map_err(pdf_error)?;
            update.new_document.get_dictionary_mut(id).map_err(pdf_error)?
        }
        None => {
            update.opt_clone_object_to_new_document(root_id).map_err(pdf_error)?;
            let catalog = update.new_document.get_dictionary_mut(root_id).map_err(pdf_error)?;
            if !catalog.has(b"AcroForm") {
                catalog.set("AcroForm", Dictionary::new());
            }
            catalog.get_mut(b"AcroForm").and_then(Object::as_dict_mut).map_err(pdf_error)?
        }
    };
    let flags = acroform_dict.get(b"SigFlags").and_then(Object::as_i64).unwrap_or(0);
    acroform_dict.set("SigFlags", Object::Integer(flags | 3));
    match fields_id {
        Some(id) => push_to_array_object(&mut update, id, widget_id)?,
        None => push_to_array_entry(acroform_dict, b"Fields", widget_id)?,
    }

    let mut bytes = Vec::with_capacity(pdf.len() + 2 * field.reserved_bytes + 4096);
    update.save_to(&mut bytes).map_err(|e| Error::InvalidPdf(e.to_string()))?;
    if bytes.get(..pdf.len()) != Some(pdf) {
        return Err(Error::UnsupportedPdf("the PDF writer did not keep the original bytes"));
    }
    let (byte_range_at, contents_at) = locate_placeholders(&bytes, pdf.len(), signature_id, &signature)?;

    // Lay out the range, then write it over the placeholder (same width, padded with spaces).
    let a = contents_at;
    let b = contents_at + 2 * field.reserved_bytes + 2;
    let byte_range = [0, a, b, bytes.len() - b];
    let placeholder_len = placeholder_array_len()?;
    let mut text = format!("[0 {a} {b} {}", bytes.len() - b).into_bytes();
    if text.len() + 1 > placeholder_len {
        return Err(Error::UnsupportedPdf("the document is too large for the /ByteRange placeholder"));
    }
    text.resize(placeholder_len - 1, b' ');
    text.push(b']');
    bytes
        .get_mut(byte_range_at..byte_range_at + placeholder_len)
        .ok_or(Error::UnsupportedPdf("the /ByteRange placeholder is outside the file"))?
        .copy_from_slice(&text);

    let digest = range_digest(&bytes, a, b);
    Ok(Prepared { bytes, byte_range, digest })
}

/// Writes `cms_der` (a DER ContentInfo with a detached SignedData) into the placeholder of
/// `prepared` and returns the signed PDF; no other byte changes.
///
/// Refuses a CMS that does not fit the reserved room (the caller has to prepare again with more)
/// and one whose message-digest is not this document's digest — a signature for another
/// document or another preparation of this one, which every verifier would reject.
pub fn embed(prepared: &Prepared, cms_der: &[u8]) -> Result<Vec<u8>> {
    let reserved = prepared.reserved_bytes();
    if cms_der.len() > reserved {
        return Err(Error::SignatureTooLarge { size: cms_der.len(), reserved });
    }
    check_message_digest(&parse_content_info(cms_der)?, &prepared.digest)?;

    let mut bytes = prepared.bytes.clone();
    let start = prepared.byte_range[1] + 1;
    let hex = bytes
        .get_mut(start..start + 2 * cms_der.len())
        .ok_or(Error::UnsupportedPdf("the placeholder is outside the file"))?;
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (pair, byte) in hex.chunks_exact_mut(2).zip(cms_der) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
    Ok(bytes)
}

/// The CMS must have one signer whose message-digest attribute is `digest`.
fn check_message_digest(signed_data: &SignedData, digest: &Sha256Digest) -> Result<()> {
    if signed_data.encap_content_info.econtent.is_some() {
        return Err(Error::InvalidSignature("a PAdES signature is detached"));
    }
    let [signer] = signed_data.signer_infos.0.as_slice() else {
        return Err(Error::InvalidSignature("not exactly one signer"));
    };
    let signed_attrs = signer.signed_attrs.as_ref().ok_or(Error::InvalidSignature("no signed attributes"))?;
    let value = signed_attrs
        .iter()
        .find(|a| a.oid == ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.get(0))
        .ok_or(Error::InvalidSignature("no message-digest attribute"))?;
    if value.decode_as::<OctetString>()?.as_bytes() != digest.as_bytes() {
        return Err(Error::InvalidSignature("the CMS signs another document or byte range"));
    }
    Ok(())
}

/// The trailer of the update: the same document (`/Root`, `/Info`, `/ID`) and `/Prev` pointing
/// at the input's last cross-reference section. Built afresh rather than copied, because the
/// input's last "trailer" may be an xref stream's dictionary (`/W`, `/Index`, `/Filter`,
/// `/DecodeParms`, ...) that does not describe the section written here.
fn update_trailer(doc: &Document) -> Dictionary {
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = doc.trailer.get(key) {
            trailer.set(key, value.clone());
        }
    }
    trailer.set("Prev", Object::Integer(doc.xref_start as i64));
    trailer
}

/// The signature dictionary with both placeholders.
fn signature_dictionary(field: &SignatureField, signing_time: i64) -> Result<Dictionary> {
    let mut sig = Dictionary::new();
    sig.set("Type", Object::Name(b"Sig".to_vec()));
    sig.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    sig.set("ByteRange", placeholder_array());
    sig.set("Contents", Object::String(vec![0; field.reserved_bytes], StringFormat::Hexadecimal));
    sig.set("M", Object::String(pdf_date(signing_time)?.into_bytes(), StringFormat::Literal));
    for (key, value) in [("Reason", &field.reason), ("Location", &field.location), ("Name", &field.signer_name)] {
        if let Some(value) = value {
            sig.set(key, text_string(value));
        }
    }
    Ok(sig)
}

/// The field and its widget in one dictionary (ISO 32000-1 12.7.3.1 allows merging them when
/// the field has one widget). Invisible: a zero rectangle, flags Print (so it is not "hidden
/// when printed") and Locked (readers must not move or delete it), 4 + 128 = 132.
fn widget(field: &SignatureField, page_id: ObjectId, signature_id: ObjectId) -> Dictionary {
    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", text_string(&field.name));
    widget.set("V", Object::Reference(signature_id));
    widget.set("F", Object::Integer(132));
    widget.set("Rect", Object::Array(vec![Object::Integer(0); 4]));
    widget.set("P", Object::Reference(page_id));
    widget
}

/// Appends `item` to the array object `id`, copied into the update.
fn push_to_array_object(update: &mut IncrementalDocument, id: ObjectId, item: ObjectId) -> Result<()> {
    update.opt_clone_object_to_new_document(id).map_err(pdf_error)?;
    let object = update.new_document.get_object_mut(id).map_err(pdf_error)?;
    object.as_array_mut().map_err(pdf_error)?.push(Object::Reference(item));
    Ok(())
}

/// Appends `item` to the array under `key` in `dict`, creating it when absent.
fn push_to_array_entry(dict: &mut Dictionary, key: &[u8], item: ObjectId) -> Result<()> {
    if !dict.has(key) {
        dict.set(key, Object::Array(Vec::new()));
    }
    dict.get_mut(key).and_then(Object::as_array_mut).map_err(pdf_error)?.push(Object::Reference(item));
    Ok(())
}

fn placeholder_array() -> Object {
    Object::Array(vec![
        Object::Integer(0),
        Object::Integer(BYTE_RANGE_PLACEHOLDER),
        Object::Integer(BYTE_RANGE_PLACEHOLDER),
        Object::Integer(BYTE_RANGE_PLACEHOLDER),
    ])
}

fn serialize(object: &Object) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    lopdf::Writer::write_object(&mut out, object).map_err(|e| Error::InvalidPdf(e.to_string()))?;
    Ok(out)
}

fn placeholder_array_len() -> Result<usize> {
    Ok(serialize(&placeholder_array())?.len())
}

/// Finds, in the update written after `original_len`, the signature object exactly as lopdf
/// serialises it, and in it the `/ByteRange` array and the `/Contents` string: returns their
/// absolute offsets (of `[` and of `<`). Searching for the whole object, not for a key, means a
/// `/ByteRange` elsewhere (an earlier signature, a string) cannot be mistaken for ours.
fn locate_placeholders(
    bytes: &[u8],
    original_len: usize,
    id: ObjectId,
    signature: &Dictionary,
) -> Result<(usize, usize)> {
    let not_found = || Error::UnsupportedPdf("the signature placeholder was not found in the written update");
    let body = serialize(&Object::Dictionary(signature.clone()))?;
    let mut object = Vec::with_capacity(body.len() + 16);
    writeln!(object, "{} {} obj", id.0, id.1).map_err(|e| Error::InvalidPdf(e.to_string()))?;
    object.extend_from_slice(&body);
    let update = bytes.get(original_len..).ok_or_else(not_found)?;
    let at = original_len + find(update, &object).ok_or_else(not_found)?;
    let body_at = at + object.len() - body.len();

    let mut byte_range = b"/ByteRange".to_vec();
    byte_range.extend(serialize(&placeholder_array())?);
    let range_at = body_at + find(&body, &byte_range).ok_or_else(not_found)? + b"/ByteRange".len();
    let contents_at = body_at + find(&body, b"/Contents<").ok_or_else(not_found)? + b"/Contents".len();
    Ok((range_at, contents_at))
}

fn range_digest(bytes: &[u8], a: usize, b: usize) -> Sha256Digest {
    let mut hasher = Sha256::new();
    hasher.update(&bytes[..a]);
    hasher.update(&bytes[b..]);
    // A 32-byte array by construction.
    Sha256Digest::from_array(hasher.finalize().into())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn pdf_error(e: lopdf::Error) -> Error {
    Error::InvalidPdf(e.to_string())
}

/// `D:YYYYMMDDHHmmSS+00'00'` (ISO 32000-1 7.9.4), in UTC.
fn pdf_date(unix: i64) -> Result<String> {
    let secs = u64::try_from(unix).map_err(|_| Error::InvalidValidity("a time is before 1970"))?;
    let t = der::DateTime::from_unix_duration(core::time::Duration::from_secs(secs))
        .map_err(|_| Error::InvalidValidity("a time is out of range"))?;
    Ok(format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    ))
}

/// A PDF text string (ISO 32000-1 7.9.2.2): printable ASCII as a literal string (ASCII is the
/// same in PDFDocEncoding), anything else — Dzongkha names, for one — as UTF-16BE with a BOM.
fn text_string(text: &str) -> Object {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Object::String(text.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut utf16 = vec![0xfe, 0xff];
        utf16.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        Object::String(utf16, StringFormat::Hexadecimal)
    }
}

/// Whether a PDF text string object says `text` (either encoding [`text_string`] writes).
fn text_equals(object: &Object, text: &str) -> bool {
    match (object, text_string(text)) {
        (Object::String(have, _), Object::String(want, _)) => *have == want,
        _ => false,
    }
}

fn check_text(field: &'static str, text: &str) -> Result<()> {
    let reason = if text.is_empty() {
        "is empty"
    } else if text.chars().count() > MAX_TEXT_CHARS {
        "is longer than 512 characters"
    } else if text.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::InvalidSignatureField { field, reason })
}

#[cfg(test)]
mod tests;
