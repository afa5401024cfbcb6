//! The rules without a server: licence types and forms, the signed document, the judgement of
//! a signature, licence numbers and validity, clearance declarations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;

use e_business::{
    Catalogue,
    domain::{
        ApplicationDocument, Cid, ClearanceStatus, Declaration, Direction, HsCode, LicenceState, Person, Verification,
        check_note, format_nu, is_licence_number, judge, licence_number, parse_nu, valid_until,
    },
};

const APPLICANT: &str = "11512000123";
// 2025-03-01T10:00:00Z
const NOW: i64 = 1_740_823_200;

fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn retail_form() -> HashMap<String, String> {
    form(&[
        ("business_name", "Pema General Shop"),
        ("activity", "Groceries and household goods"),
        ("dzongkhag", "Paro"),
        ("location", "Paro town, Norzin Lam, plot 12"),
        ("goods_category", "grocery"),
        ("floor_area", "40"),
    ])
}

#[test]
fn the_built_in_catalogue_is_good_and_bad_files_are_refused() {
    let c = Catalogue::built_in().unwrap();
    let ids: Vec<&str> = c.licences().iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["retail", "restaurant", "manufacturing", "construction", "import-export"]);
    assert!(c.licence("import-export").unwrap().trade);
    assert!(!c.licence("retail").unwrap().trade);
    assert_eq!(c.port("PLG").unwrap().name, "Phuentsholing");
    for (bad, why) in [
        ("", "no licence"),
        (
            "[[licence]]\nid = \"A b\"\ntitle = \"x\"\ndescription = \"d\"\nvalidity_years = 1\n[[port]]\ncode = \"P\"\nname = \"p\"",
            "bad id",
        ),
        (
            "[[licence]]\nid = \"a\"\ntitle = \"x\"\ndescription = \"d\"\nvalidity_years = 0\n[[port]]\ncode = \"P\"\nname = \"p\"",
            "validity 0",
        ),
        ("[[licence]]\nid = \"a\"\ntitle = \"x\"\ndescription = \"d\"\nvalidity_years = 1", "no port"),
        (
            "[[licence]]\nid = \"a\"\ntitle = \"x\"\ndescription = \"d\"\nvalidity_years = 1\n[[licence.field]]\nname = \"dzongkhag\"\nlabel = \"D\"\nkind = \"text\"\n[[port]]\ncode = \"P\"\nname = \"p\"",
            "a common field reused",
        ),
        (
            "[[licence]]\nid = \"a\"\ntitle = \"x\"\ndescription = \"d\"\nvalidity_years = 1\n[[licence.field]]\nname = \"s\"\nlabel = \"S\"\nkind = \"select\"\n[[port]]\ncode = \"P\"\nname = \"p\"",
            "a select without options",
        ),
        (
            "[[licence]]\nid = \"a\"\ntitle = \"x\"\ndescription = \"d\"\nvalidity_years = 1\nfee = 3\n[[port]]\ncode = \"P\"\nname = \"p\"",
            "unknown key",
        ),
    ] {
        assert!(Catalogue::parse(bad).is_err(), "{why}");
    }
}

#[test]
fn forms_are_checked_field_by_field() {
    let c = Catalogue::built_in().unwrap();
    let retail = c.licence("retail").unwrap();
    let ok = retail.validate(&retail_form()).unwrap();
    assert_eq!(ok.business_name, "Pema General Shop");
    assert_eq!(ok.details["floor_area"], "40");
    assert_eq!(ok.details.len(), 2);

    let mut bad = retail_form();
    bad.insert("business_name".into(), "  ".into());
    bad.insert("dzongkhag".into(), "Atlantis".into());
    bad.insert("floor_area".into(), "-3".into());
    bad.insert("goods_category".into(), "weapons".into());
    bad.insert("activity".into(), "x".repeat(301));
    let e = retail.validate(&bad).unwrap_err();
    assert_eq!(e.get("business_name"), Some("Business name is required."));
    assert!(e.get("dzongkhag").unwrap().contains("dzongkhag"));
    assert!(e.get("floor_area").unwrap().contains("whole number from 1 to 10000"));
    assert!(e.get("goods_category").unwrap().contains("choose one of"));
    assert!(e.get("activity").unwrap().contains("at most 300"));
    assert!(e.get("location").is_none());

    let mut bad = retail_form();
    bad.insert("location".into(), "Paro\u{0}town".into());
    bad.insert("floor_area".into(), "4e1".into());
    let e = retail.validate(&bad).unwrap_err();
    assert!(e.get("location").unwrap().contains("control"));
    assert!(e.get("floor_area").is_some());
    bad.remove("floor_area");
    assert_eq!(
        retail.validate(&bad).unwrap_err().get("floor_area"),
        Some("Shop floor area (square metres) is required.")
    );
}

fn document() -> ApplicationDocument {
    let c = Catalogue::built_in().unwrap();
    let retail = c.licence("retail").unwrap();
    let who = Person::new(Some(APPLICANT), "Pema Choden").unwrap();
    ApplicationDocument::new("EBZ-0011223344556677", retail, &who, retail.validate(&retail_form()).unwrap(), NOW)
}

#[test]
fn the_application_document_is_canonical_json_and_reads_back_only_when_exact() {
    let d = document();
    let bytes = d.to_bytes().unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(
        text.starts_with("{\"activity\":\"Groceries and household goods\",\"applicant_cid\":\"11512000123\""),
        "{text}"
    );
    assert!(text.contains("\"details\":{\"floor_area\":\"40\",\"goods_category\":\"grocery\"}"), "{text}");
    assert!(text.contains("\"prepared_at\":\"2025-03-01T10:00:00Z\""), "{text}");
    assert!(!text.contains(": ") && !text.contains(", \"") && !text.contains('\n'), "no insignificant white space");
    // Keys in order: the same application always gives the same bytes.
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(document().to_bytes().unwrap(), bytes);
    assert_eq!(ApplicationDocument::from_bytes(&bytes).unwrap(), d);
    // The same content written differently is not this document; nor is anything else.
    let spaced = serde_json::to_vec_pretty(&d).unwrap();
    assert!(ApplicationDocument::from_bytes(&spaced).is_err());
    assert!(ApplicationDocument::from_bytes(b"not json").is_err());
    let mut other_kind = d.clone();
    other_kind.document = "something/else".into();
    assert!(ApplicationDocument::from_bytes(&other_kind.to_bytes().unwrap()).is_err());
    assert!(d.title().contains("Retail trade licence") && d.title().contains("Pema General Shop"));
    assert!(Person::new(None, "x").is_err() && Person::new(Some("123"), "x").is_err());
}

fn good_verification() -> Verification {
    Verification {
        valid: true,
        reason: None,
        signer: Some("Pema Choden".into()),
        cid: Some(APPLICANT.into()),
        agency: None,
        certificate_serial: Some("0a1b".into()),
        signing_time: Some(NOW),
        certificate_status: Some("good".into()),
    }
}

#[test]
fn only_the_applicants_good_signature_is_accepted() {
    let applicant = Cid::parse(APPLICANT).unwrap();
    let ok = judge(&good_verification(), &applicant).unwrap();
    assert_eq!((ok.signer.as_str(), ok.signing_time), ("Pema Choden", NOW));
    let later = Verification {
        certificate_status: Some("revoked later, at 1800000000 (KeyCompromise)".into()),
        ..good_verification()
    };
    assert!(judge(&later, &applicant).is_ok(), "a revocation after signing does not undo the signature");
    for (v, why) in [
        (
            Verification { valid: false, reason: Some("message digest mismatch".into()), ..good_verification() },
            "digest mismatch",
        ),
        (Verification { cid: Some("10101001234".into()), ..good_verification() }, "someone else"),
        (Verification { cid: None, ..good_verification() }, "did not say whose"),
        (
            Verification { certificate_status: Some("revoked at 1 (KeyCompromise)".into()), ..good_verification() },
            "not good",
        ),
        (Verification { certificate_status: None, ..good_verification() }, "not good"),
        (Verification { signing_time: None, ..good_verification() }, "no trusted signing time"),
        (e_business::domain::unverified("not a signature"), "does not verify for this application: not a signature"),
    ] {
        let e = judge(&v, &applicant).unwrap_err();
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[test]
fn licence_numbers_validity_and_state() {
    let n = licence_number(NOW, &[0x4f, 0x0a, 0x9c, 0x31, 0xb2]);
    assert_eq!(n, "BL-2025-4F0A9C31B2");
    assert!(is_licence_number(&n));
    for bad in [
        "",
        "BL-2025-4F0A9C31B",
        "BL-2025-4f0a9c31b2",
        "XX-2025-4F0A9C31B2",
        "BL-20A5-4F0A9C31B2",
        "BL-2025-4F0A9C31BG",
    ] {
        assert!(!is_licence_number(bad), "{bad}");
    }
    let one_year = valid_until(NOW, 1);
    assert_eq!(one_year - NOW, 365 * 86_400);
    // 29 February 2024 + 1 year: 28 February 2025.
    let leap = 1_709_200_800; // 2024-02-29T10:00:00Z
    assert_eq!(e_business::domain::date(valid_until(leap, 1)), "2025-02-28");
    assert_eq!(LicenceState::at(false, one_year, NOW), LicenceState::Active);
    assert_eq!(LicenceState::at(false, one_year, one_year), LicenceState::Expired);
    assert_eq!(LicenceState::at(true, one_year, NOW), LicenceState::Revoked);
}

fn declaration() -> HashMap<String, String> {
    form(&[
        ("licence", "BL-2025-4F0A9C31B2"),
        ("direction", "import"),
        ("hs_code", "0902.30"),
        ("description", "Black tea in packets"),
        ("quantity", "500"),
        ("unit", "kg"),
        ("value", "125,000.5"),
        ("country", "in"),
        ("port", "PLG"),
    ])
}

#[test]
fn declarations_are_checked_field_by_field() {
    let ports = ["PLG", "GLP"];
    let d = Declaration::parse(&declaration(), &ports).unwrap();
    assert_eq!(d.hs_code.as_str(), "090230");
    assert_eq!(d.direction, Direction::Import);
    assert_eq!(d.value_chhertum, 12_500_050);
    assert_eq!(d.country, "IN");
    assert_eq!(format_nu(d.value_chhertum), "Nu. 125000.50");

    let mut bad = declaration();
    for (k, v) in [
        ("hs_code", "12345"),
        ("direction", "sideways"),
        ("quantity", "0"),
        ("unit", "bag"),
        ("value", "-5"),
        ("country", "BT"),
        ("port", "XYZ"),
        ("licence", "nope"),
        ("description", ""),
    ] {
        bad.insert(k.into(), v.into());
    }
    let e = Declaration::parse(&bad, &ports).unwrap_err();
    for k in ["hs_code", "direction", "quantity", "unit", "value", "country", "port", "licence", "description"] {
        assert!(e.get(k).is_some(), "{k}");
    }
    assert!(e.get("hs_code").unwrap().contains("6 to 10 digits"));
}

#[test]
fn hs_codes_amounts_notes_and_clearance_steps() {
    assert_eq!(HsCode::parse("8703 23 91").unwrap().as_str(), "87032391");
    assert!(HsCode::parse("0902301234").is_ok());
    for bad in ["09023", "09023012345", "09a230", "000000", "980000", "770000", ""] {
        assert!(HsCode::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_nu("10"), Some(1000));
    assert_eq!(parse_nu("10.05"), Some(1005));
    for bad in ["", "0", "1.234", "1e3", "abc", ".5", "99999999999999"] {
        assert_eq!(parse_nu(bad), None, "{bad}");
    }
    assert!(check_note("", true).is_err());
    assert_eq!(check_note("  fine \n", false).unwrap(), "fine");
    assert!(check_note(&"x".repeat(1001), false).is_err());
    assert!(check_note("bell\u{7}", false).is_err());
    assert_eq!(ClearanceStatus::Filed.next("clear").unwrap(), ClearanceStatus::Cleared);
    assert_eq!(ClearanceStatus::Filed.next("hold").unwrap(), ClearanceStatus::Held);
    assert_eq!(ClearanceStatus::Held.next("clear").unwrap(), ClearanceStatus::Cleared);
    assert!(ClearanceStatus::Held.next("hold").is_err());
    assert!(ClearanceStatus::Cleared.next("hold").is_err());
    assert!(ClearanceStatus::Filed.next("burn").is_err());
    assert!(Direction::Export.allowed_by("import and export") && !Direction::Export.allowed_by("import"));
}
