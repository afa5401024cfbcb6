//! Unit tests: the layout of the update, checked byte by byte and by reading it back with lopdf.
//! Whether real validators accept the result is for `tests/pdf_tools` (pdfsig, pyHanko).

use der::oid::db::rfc5911::{ID_AA_SIGNING_CERTIFICATE_V_2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME};
use lopdf::SaveOptions;

use super::*;
use crate::cms::CmsSigner;
use crate::tests::{NOW, citizen_with_key, hierarchy};

/// A one-page PDF 1.7 with a classic cross-reference table, written by hand.
const CLASSIC: &[u8] = include_bytes!("../../tests/fixtures/classic.pdf");

/// The same document rewritten by lopdf with object streams and a cross-reference stream.
fn xref_stream_pdf() -> Vec<u8> {
    let mut doc = Document::load_mem(CLASSIC).unwrap();
    let mut out = Vec::new();
    let options = SaveOptions::builder().use_object_streams(true).use_xref_streams(true).build();
    doc.save_with_options(&mut out, options).unwrap();
    assert!(find(&out, b"/ObjStm").is_some() && find(&out, b"/XRef").is_some());
    assert!(find(&out, b"\ntrailer").is_none());
    out
}

fn field() -> SignatureField {
    SignatureField::new("Signature1").unwrap()
}

/// A PAdES CMS over `prepared`'s digest from a fresh citizen.
fn cms_for(prepared: &Prepared) -> Vec<u8> {
    let h = hierarchy();
    let (cert, key) = citizen_with_key(&h);
    let signer = CmsSigner::new(&cert, &key).unwrap().for_pades();
    signer.sign_digest(&prepared.digest(), NOW).unwrap().to_der().unwrap()
}

fn check_layout(original: &[u8], prepared: &Prepared, reserved: usize) {
    let bytes = prepared.as_bytes();
    // Incremental: the original is a prefix, untouched.
    assert_eq!(&bytes[..original.len()], original);
    assert!(bytes.ends_with(b"%%EOF"));

    // The range is [0, a, b, c] and covers everything but `<00…00>`.
    let [start, a, b, c] = prepared.byte_range();
    assert_eq!(start, 0);
    assert!(a > original.len());
    assert_eq!(b + c, bytes.len());
    assert_eq!(b - a, 2 * reserved + 2);
    assert_eq!(bytes[a], b'<');
    assert_eq!(bytes[b - 1], b'>');
    assert!(bytes[a + 1..b - 1].iter().all(|&z| z == b'0'));
    assert_eq!(prepared.reserved_bytes(), reserved);

    // The range written into the file is the one returned, as plain integers.
    let text = format!("/ByteRange[0 {a} {b} {c}");
    assert!(find(bytes, text.as_bytes()).is_some(), "{text}");

    // The digest is SHA-256 of the two ranges concatenated.
    let mut signed = bytes[..a].to_vec();
    signed.extend_from_slice(&bytes[b..]);
    assert_eq!(prepared.digest(), Sha256Digest::of(&signed));
}

/// Reads the prepared or signed file back and returns the signature dictionary of `name`.
fn signature_of(bytes: &[u8], name: &str) -> Dictionary {
    let doc = Document::load_mem(bytes).unwrap();
    let catalog = doc.catalog().unwrap();
    let (_, acroform) = doc.dereference(catalog.get(b"AcroForm").unwrap()).unwrap();
    let acroform = acroform.as_dict().unwrap();
    assert_eq!(acroform.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
    let (_, fields) = doc.dereference(acroform.get(b"Fields").unwrap()).unwrap();
    let (widget_ref, widget) = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f, doc.dereference(f).unwrap().1.as_dict().unwrap()))
        .find(|(_, f)| text_equals(f.get(b"T").unwrap(), name))
        .unwrap();
    assert_eq!(widget.get(b"FT").unwrap().as_name().unwrap(), b"Sig");
    assert_eq!(widget.get(b"Subtype").unwrap().as_name().unwrap(), b"Widget");
    assert_eq!(widget.get(b"F").unwrap().as_i64().unwrap(), 132);
    let rect: Vec<i64> = widget.get(b"Rect").unwrap().as_array().unwrap().iter().map(|o| o.as_i64().unwrap()).collect();
    assert_eq!(rect, [0, 0, 0, 0]);

    // The widget is on page 1, which points back at it.
    let page_id = *doc.get_pages().get(&1).unwrap();
    assert_eq!(widget.get(b"P").unwrap().as_reference().unwrap(), page_id);
    let page = doc.get_dictionary(page_id).unwrap();
    let annots = page.get(b"Annots").unwrap().as_array().unwrap();
    assert!(annots.contains(widget_ref));

    let (_, sig) = doc.dereference(widget.get(b"V").unwrap()).unwrap();
    sig.as_dict().unwrap().clone()
}

#[test]
fn prepare_appends_an_incremental_update_with_a_classic_xref_table() {
    let prepared = prepare(CLASSIC, &field(), NOW).unwrap();
    check_layout(CLASSIC, &prepared, DEFAULT_RESERVED_BYTES);
    let update = &prepared.as_bytes()[CLASSIC.len()..];
    assert!(find(update, b"\nxref\n").is_some() && find(update, b"\ntrailer\n").is_some());
    assert!(find(update, b"/Prev 531").is_some(), "points back at the original table");
    assert!(find(update, b"%PDF").is_none(), "no second header");

    let sig = signature_of(prepared.as_bytes(), "Signature1");
    assert_eq!(sig.get(b"Type").unwrap().as_name().unwrap(), b"Sig");
    assert_eq!(sig.get(b"Filter").unwrap().as_name().unwrap(), b"Adobe.PPKLite");
    assert_eq!(sig.get(b"SubFilter").unwrap().as_name().unwrap(), b"ETSI.CAdES.detached");
    assert_eq!(sig.get(b"M").unwrap().as_str().unwrap(), b"D:20260101000000+00'00'");
    assert!(!sig.has(b"Reason") && !sig.has(b"Location") && !sig.has(b"Name"));
    let range: Vec<usize> =
        sig.get(b"ByteRange").unwrap().as_array().unwrap().iter().map(|o| o.as_i64().unwrap() as usize).collect();
    assert_eq!(range, prepared.byte_range());
    assert_eq!(sig.get(b"Contents").unwrap().as_str().unwrap(), vec![0; DEFAULT_RESERVED_BYTES].as_slice());

    // Document info and the rest of the document survive.
    let doc = Document::load_mem(prepared.as_bytes()).unwrap();
    assert_eq!(doc.get_pages().len(), 1);
    assert_eq!(doc.trailer.get(b"ID").unwrap(), Document::load_mem(CLASSIC).unwrap().trailer.get(b"ID").unwrap());
}

#[test]
fn prepare_after_an_xref_stream_writes_an_xref_stream() {
    let original = xref_stream_pdf();
    let prepared = prepare(&original, &field().with_reserved_bytes(8192).unwrap(), NOW).unwrap();
    check_layout(&original, &prepared, 8192);
    let update = &prepared.as_bytes()[original.len()..];
    assert!(find(update, b"/Type/XRef").is_some());
    assert!(find(update, b"\ntrailer").is_none());
    assert!(find(update, b"/DecodeParms").is_none() && find(update, b"/Filter/FlateDecode").is_none());
    signature_of(prepared.as_bytes(), "Signature1");
}

#[test]
fn reason_location_and_name_are_pdf_text_strings() {
    let field = field()
        .with_reason("Approved")
        .unwrap()
        .with_location("Thimphu")
        .unwrap()
        .with_signer_name("ཀརྨ་དབང་ཕྱུག")
        .unwrap();
    let prepared = prepare(CLASSIC, &field, NOW + 3_723).unwrap();
    let sig = signature_of(prepared.as_bytes(), "Signature1");
    assert_eq!(sig.get(b"Reason").unwrap().as_str().unwrap(), b"Approved");
    assert_eq!(sig.get(b"Location").unwrap().as_str().unwrap(), b"Thimphu");
    let name = sig.get(b"Name").unwrap().as_str().unwrap();
    assert_eq!(&name[..2], &[0xfe, 0xff], "UTF-16BE with a byte order mark");
    let utf16: Vec<u16> = name[2..].chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    assert_eq!(String::from_utf16(&utf16).unwrap(), "ཀརྨ་དབང་ཕྱུག");
    assert_eq!(sig.get(b"M").unwrap().as_str().unwrap(), b"D:20260101010203+00'00'");
}

#[test]
fn embed_writes_the_cms_into_the_placeholder_and_nothing_else() {
    let prepared = prepare(CLASSIC, &field(), NOW).unwrap();
    let cms = cms_for(&prepared);
    let signed = embed(&prepared, &cms).unwrap();
    assert_eq!(signed.len(), prepared.as_bytes().len());
    let [_, a, b, _] = prepared.byte_range();
    assert_eq!(&signed[..=a], &prepared.as_bytes()[..=a]);
    assert_eq!(&signed[b - 1..], &prepared.as_bytes()[b - 1..]);
    let hex: String = cms.iter().map(|x| format!("{x:02X}")).collect();
    assert_eq!(&signed[a + 1..a + 1 + hex.len()], hex.as_bytes());
    assert!(signed[a + 1 + hex.len()..b - 1].iter().all(|&z| z == b'0'));

    // The signature dictionary's /Contents reads back as the CMS with zero padding.
    let sig = signature_of(&signed, "Signature1");
    let contents = sig.get(b"Contents").unwrap().as_str().unwrap();
    assert_eq!(&contents[..cms.len()], cms.as_slice());

    // A prepared file refuses to be read back once signed.
    assert!(matches!(Prepared::from_bytes(signed), Err(Error::UnsupportedPdf(_))));
}

#[test]
fn embed_refuses_a_cms_that_does_not_fit_or_signs_something_else() {
    let prepared = prepare(CLASSIC, &field().with_reserved_bytes(64).unwrap(), NOW).unwrap();
    let cms = cms_for(&prepared);
    let err = embed(&prepared, &cms).unwrap_err();
    assert!(matches!(err, Error::SignatureTooLarge { reserved: 64, size } if size == cms.len()), "{err}");

    let prepared = prepare(CLASSIC, &field(), NOW).unwrap();
    let other = prepare(CLASSIC, &field(), NOW + 1).unwrap();
    assert_ne!(prepared.digest(), other.digest(), "/M is signed");
    let err = embed(&prepared, &cms_for(&other)).unwrap_err();
    assert!(matches!(err, Error::InvalidSignature(_)), "{err}");
    assert!(embed(&prepared, b"\x30\x03\x02\x01\x00").is_err());
}

#[test]
fn a_prepared_file_reads_back_with_the_same_range_and_digest() {
    let prepared = prepare(CLASSIC, &field(), NOW).unwrap();
    let again = Prepared::from_bytes(prepared.as_bytes().to_vec()).unwrap();
    assert_eq!(again.byte_range(), prepared.byte_range());
    assert_eq!(again.digest(), prepared.digest());
    assert_eq!(embed(&again, &cms_for(&prepared)).unwrap().len(), prepared.as_bytes().len());

    assert!(Prepared::from_bytes(CLASSIC.to_vec()).is_err());
    let mut truncated = prepared.as_bytes().to_vec();
    truncated.pop();
    assert!(Prepared::from_bytes(truncated).is_err());
}

#[test]
fn a_second_signature_goes_after_the_first_and_needs_its_own_name() {
    let first = prepare(CLASSIC, &field(), NOW).unwrap();
    let signed = embed(&first, &cms_for(&first)).unwrap();
    let err = prepare(&signed, &field(), NOW).unwrap_err();
    assert!(matches!(err, Error::InvalidSignatureField { field: "field name", .. }), "{err}");

    let second = prepare(&signed, &SignatureField::new("Signature2").unwrap(), NOW).unwrap();
    check_layout(&signed, &second, DEFAULT_RESERVED_BYTES);
    signature_of(second.as_bytes(), "Signature1");
    signature_of(second.as_bytes(), "Signature2");
}

#[test]
fn refuses_what_it_cannot_sign() {
    assert!(matches!(prepare(b"not a pdf", &field(), NOW), Err(Error::InvalidPdf(_))));
    assert!(matches!(prepare(CLASSIC, &field(), -1), Err(Error::InvalidValidity(_))));
    for bad in ["", "a.b", "tab\there"] {
        assert!(matches!(SignatureField::new(bad), Err(Error::InvalidSignatureField { .. })), "{bad:?}");
    }
    assert!(SignatureField::new(&"x".repeat(513)).is_err());
    assert!(field().with_reason("line\nbreak").is_err());
    assert!(field().with_reserved_bytes(0).is_err());
    assert!(field().with_reserved_bytes(MAX_RESERVED_BYTES + 1).is_err());
}

#[test]
fn the_pades_profile_leaves_out_signing_time_and_keeps_the_rest() {
    let h = hierarchy();
    let (cert, key) = citizen_with_key(&h);
    let digest = Sha256Digest::of(b"a PDF byte range");
    let der = CmsSigner::new(&cert, &key).unwrap().for_pades().sign_digest(&digest, NOW).unwrap().to_der().unwrap();
    let sd = parse_content_info(&der).unwrap();
    let attrs = sd.signer_infos.0.get(0).unwrap().signed_attrs.as_ref().unwrap();
    let oids: Vec<_> = attrs.iter().map(|a| a.oid).collect();
    assert_eq!(oids.len(), 3);
    for oid in [ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_AA_SIGNING_CERTIFICATE_V_2] {
        assert!(oids.contains(&oid), "{oid}");
    }
    assert!(!oids.contains(&ID_SIGNING_TIME));
    check_message_digest(&sd, &digest).unwrap();

    // The certificate's validity is still checked at `now`.
    let signer = CmsSigner::new(&cert, &key).unwrap().for_pades();
    assert!(matches!(signer.sign_digest(&digest, NOW - 1), Err(Error::UnsuitableCertificate(_))));
}
