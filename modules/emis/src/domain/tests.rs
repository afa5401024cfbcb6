//! Unit tests of the pure parts: values, validation of enrolments and marks, the school list.

use super::*;

/// 2025-06-15 15:06 UTC, 21:06 in Thimphu.
const NOW: i64 = 1_750_000_000;

fn school(level: Level) -> School {
    School { code: "T-1".into(), name: "Test School".into(), dzongkhag: "Paro".into(), level, provisional: false }
}

fn enrol_in() -> EnrolIn {
    EnrolIn {
        cid: "10101009876".into(),
        name: "Tashi Dema".into(),
        date_of_birth: "2013-03-04".into(),
        year: "2025".into(),
        class: "6".into(),
        guardian_cid: "11512000123".into(),
        guardian_relationship: "mother".into(),
        ..EnrolIn::default()
    }
}

#[test]
fn the_academic_year_turns_at_midnight_in_bhutan() {
    // 2024-12-31 19:00 UTC is already 1 January in Thimphu; 17:59 is not.
    assert_eq!(current_year(1_735_671_600).unwrap().get(), 2025);
    assert_eq!(current_year(1_735_667_940).unwrap().get(), 2024);
    assert_eq!(current_year(NOW).unwrap().get(), 2025);
    for (s, ok) in [("2024", true), ("2025", true), ("2026", true), ("2023", false), ("2027", false), ("", false)] {
        assert_eq!(AcademicYear::parse(s, NOW).is_ok(), ok, "{s}");
    }
    let e = AcademicYear::parse("1999", NOW).unwrap_err().to_string();
    assert!(e.contains("2024, 2025 or 2026"), "{e}");
}

#[test]
fn values_validate_on_construction() {
    assert!(Cid::parse(" 10101001234 ").is_ok());
    for bad in ["", "1010100123", "101010012345", "1010100123a", "１０１０１００１２３４"] {
        assert!(Cid::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Cid::parse("10101001234").unwrap().subject(), "student:10101001234");
    for (s, n) in [("PP", 0), ("pp", 0), ("1", 1), ("12", 12), (" 7 ", 7)] {
        assert_eq!(Class::parse(s).unwrap().number(), n, "{s}");
    }
    for bad in ["13", "-1", "+3", "07", "Class 5", "V", ""] {
        assert!(Class::parse(bad).is_err(), "{bad}");
    }
    for (s, m) in [("0", 0), ("100", 100), (" 78 ", 78)] {
        assert_eq!(Mark::parse(s).unwrap().get(), m);
    }
    for bad in ["101", "-5", "+5", "78.5", "abc", "", "1e2", "255", "256"] {
        let e = Mark::parse(bad).unwrap_err().to_string();
        assert!(e.contains("whole number from 0 to 100"), "{bad}: {e}");
    }
    assert_eq!(Term::parse("term2").unwrap(), Term::Term2);
    assert!(Term::parse("Term 3").is_err());
    assert!(Relationship::parse("uncle").is_err());
    assert!(EndReason::parse("expelled").is_err());
    assert_eq!(school_code(" thi-lmss ").unwrap(), "THI-LMSS");
    assert!(school_code("THI LMSS").is_err());
    assert!(text("x", "a\u{7}b", 1, 10).is_err());
    assert!(past_date("d", "2025-06-16", NOW).is_err());
    assert!(past_date("d", "2025-06-15", NOW).is_ok());
}

#[test]
fn a_school_level_fixes_its_classes() {
    let pp = Class::parse("PP").unwrap();
    let nine = Class::parse("9").unwrap();
    assert!(pp.offered_by(Level::Primary).is_ok());
    let e = nine.offered_by(Level::Primary).unwrap_err().to_string();
    assert_eq!(e, "A Primary School teaches PP to Class 6, not Class 9.");
    assert!(pp.offered_by(Level::HigherSecondary).is_err());
    assert!(Class::parse("12").unwrap().offered_by(Level::Central).is_ok());
    assert!(Class::parse("11").unwrap().offered_by(Level::MiddleSecondary).is_err());
}

#[test]
fn subjects_are_those_taught_in_the_class() {
    let six = Class::parse("6").unwrap();
    assert_eq!(Subject::parse("mat", six).unwrap().name, "Mathematics");
    let e = Subject::parse("PHY", six).unwrap_err().to_string();
    assert_eq!(e, "Physics is not taught in Class 6.");
    assert!(Subject::parse("XYZ", six).unwrap_err().to_string().contains("DZO, ENG, MAT"));
    let taught: Vec<_> = Subject::taught_in(six).iter().map(|s| s.code).collect();
    assert_eq!(taught, ["DZO", "ENG", "MAT", "SCI", "SST", "HPE"]);
    assert!(Subject::taught_in(Class::parse("11").unwrap()).iter().any(|s| s.code == "ACC"));
    assert_eq!(Subject::name_of("OLD"), "OLD");
}

#[test]
fn an_enrolment_is_checked_whole() {
    let v = enrol_in().validate(&school(Level::MiddleSecondary), NOW).unwrap();
    assert_eq!(v.class.number(), 6);
    assert_eq!(v.guardians.len(), 1);
    assert_eq!(v.guardians[0].1, Relationship::Mother);
    type Case = (fn(&mut EnrolIn), &'static str);
    let cases: Vec<Case> = vec![
        (|e| e.cid = "123".into(), "child's CID must be 11 digits"),
        (|e| e.name = "  ".into(), "name must not be empty"),
        (|e| e.date_of_birth = "2030-01-01".into(), "in the future"),
        (|e| e.date_of_birth = "04/03/2013".into(), "YYYY-MM-DD"),
        (|e| e.year = "2030".into(), "academic year"),
        (|e| e.class = "11".into(), "not Class 11"),
        (|e| e.guardian_cid = String::new(), "guardian's CID (11 digits) is required"),
        (|e| e.guardian_cid = "10101009876".into(), "own guardian"),
        (|e| e.guardian_relationship = "aunt".into(), "mother, father or guardian"),
        (
            |e| {
                e.guardian2_cid = "11512000123".into();
                e.guardian2_relationship = "father".into();
            },
            "same CID",
        ),
        (|e| e.guardian2_cid = "12".into(), "second guardian's CID"),
    ];
    for (change, says) in cases {
        let mut e = enrol_in();
        change(&mut e);
        let err = e.validate(&school(Level::MiddleSecondary), NOW).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
    let mut two = enrol_in();
    two.guardian2_cid = "10101001234".into();
    two.guardian2_relationship = "father".into();
    assert_eq!(two.validate(&school(Level::Central), NOW).unwrap().guardians.len(), 2);
}

#[test]
fn a_mark_is_checked_against_the_class() {
    let m = MarkIn { year: "2025".into(), term: "term1".into(), subject: "eng".into(), mark: "78".into() };
    let v = m.validate(Class::parse("6").unwrap(), NOW).unwrap();
    assert_eq!((v.subject.code, v.mark.get(), v.term), ("ENG", 78, Term::Term1));
    let bad = MarkIn { subject: "EVS".into(), ..m.clone() };
    assert!(bad.validate(Class::parse("6").unwrap(), NOW).is_err());
    assert!(bad.validate(Class::parse("PP").unwrap(), NOW).is_ok());
    assert!(MarkIn { term: "term3".into(), ..m.clone() }.validate(Class::parse("6").unwrap(), NOW).is_err());
    assert!(MarkIn { mark: "101".into(), ..m }.validate(Class::parse("6").unwrap(), NOW).is_err());
}

#[test]
fn report_card_numbers_and_averages() {
    let y = AcademicYear::parse("2025", NOW).unwrap();
    let a = new_number(y);
    assert!(a.starts_with("RC-2025-") && a.len() == 28, "{a}");
    assert!(is_number(&a));
    assert_ne!(a, new_number(y));
    for bad in ["", "rc-2025-x", "RC 2025", "RC-2025-<script>", &"A".repeat(41)] {
        assert!(!is_number(bad), "{bad}");
    }
    let m = |mark| CardMark { subject: "MAT".into(), name: "Mathematics".into(), mark };
    assert_eq!(average(&[m(78), m(93)]), Some(85.5));
    assert_eq!(average(&[m(70), m(70), m(71)]), Some(70.3));
    assert_eq!(average(&[]), None);
}

#[test]
fn the_shipped_school_list_parses_and_is_marked_provisional() {
    let list = parse_schools(SEED_SCHOOLS.as_bytes()).unwrap();
    assert!(list.len() >= 20);
    assert!(list.iter().all(|s| s.provisional), "every seeded school is to be checked");
    assert!(list.iter().any(|s| s.code == "THI-LMSS" && s.level == Level::MiddleSecondary));
    let codes: std::collections::HashSet<_> = list.iter().map(|s| &s.code).collect();
    assert_eq!(codes.len(), list.len());
}

#[test]
fn a_bad_school_list_is_refused_whole_with_line_numbers() {
    let csv = "code,name,dzongkhag,level\nA-1,Good School,Paro,primary\nA-2,,Paro,primary\n\
               A 3,X,Narnia,college\nA-1,Again,Paro,primary\n";
    let e = parse_schools(csv.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("line 4") && e.contains("line 5") && !e.contains("line 2"), "{e}");
    assert!(e.contains("Narnia") && e.contains("level must be"), "{e}");
    assert!(parse_schools(b"code,name\nA,B\n").is_err());
    assert!(parse_schools(b"code,name,dzongkhag,level\n").is_err());
}
