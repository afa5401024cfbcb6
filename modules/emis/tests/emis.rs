//! EMIS's storage and command line on a real database (SQLite; PostgreSQL too when
//! `TEST_POSTGRES_URL` is set): the seed list, the school import (all-or-nothing, schools in
//! use kept), enrolment and marks rules, and the `emis` binary itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use agency_kit::{audit, db::Db, staff::StaffRole};
use emis::domain::{self, Cid};

const NOW: i64 = 1_750_000_000; // 2025-06-15

async fn databases() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("emis.db").display());
    let mut out = vec![(emis::open_db(&url).await.unwrap(), Some(dir))];
    if let Ok(base) = std::env::var("TEST_POSTGRES_URL") {
        let name = format!("emis_test_{}", uuid_like());
        let admin = sqlx::PgPool::connect(&base).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        out.push((emis::open_db(&url).await.unwrap(), None));
    } else {
        eprintln!("SKIPPED: emis on PostgreSQL (set TEST_POSTGRES_URL to run it)");
    }
    out
}

fn uuid_like() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}_{}", t.as_nanos(), std::process::id())
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(db.pool()).await.unwrap()
}

#[tokio::test]
async fn the_school_import_is_all_or_nothing_and_keeps_schools_in_use() {
    for (db, _dir) in databases().await {
        let seeded = domain::parse_schools(domain::SEED_SCHOOLS.as_bytes()).unwrap().len();
        assert_eq!(domain::schools(&db).await.unwrap().len(), seeded);
        assert_eq!(domain::seed_schools(&db, NOW).await.unwrap(), 0, "a second start seeds nothing");
        domain::add_staff(&db, "10101001234", domain::TEACHER, Some("THI-CMSS"), "Deki", "operator", NOW)
            .await
            .unwrap();

        let bad = "code,name,dzongkhag,level\nNEW-1,New School,Haa,primary\nNEW-2,Bad,Haa,university\n";
        let e = domain::parse_schools(bad.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("line 3") && !e.contains("line 2"), "{e}");
        assert_eq!(domain::schools(&db).await.unwrap().len(), seeded, "nothing imported");

        let good = "code,name,dzongkhag,level\nTHI-LMSS,Lungtenzampa Middle Secondary School,Thimphu,middle_secondary\n\
                    HAA-1,Haa Primary School,Haa,primary\n";
        let list = domain::parse_schools(good.as_bytes()).unwrap();
        let r = domain::import_schools(&db, &list, "operator", NOW).await.unwrap();
        assert_eq!((r.added, r.updated), (1, 1), "{r:?}");
        assert_eq!(r.provisional_kept, ["THI-CMSS"], "a teacher works there");
        assert_eq!(r.provisional_removed, seeded - 2);
        let lmss = domain::school(&db, "THI-LMSS").await.unwrap().unwrap();
        assert!(!lmss.provisional, "confirmed by the Ministry's list");
        assert!(domain::school(&db, "THI-CMSS").await.unwrap().unwrap().provisional);
        let again = domain::import_schools(&db, &list, "operator", NOW).await.unwrap();
        assert_eq!((again.added, again.updated, again.provisional_removed), (0, 0, 0), "idempotent");
        assert_eq!(audit::with_action(&db, "schools_imported", 10).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn enrolment_and_marks_follow_the_rules() {
    for (db, _dir) in databases().await {
        let year = domain::current_year(agency_kit::now()).unwrap().to_string();
        let now = agency_kit::now();
        let principal = StaffRole {
            cid: "10101001234".into(),
            role: domain::PRINCIPAL.into(),
            unit: "THI-JLPS".into(),
            name: "P".into(),
        };
        let school = domain::school(&db, "THI-JLPS").await.unwrap().unwrap();
        let input = domain::EnrolIn {
            cid: "10101009876".into(),
            name: "Tashi Dema".into(),
            date_of_birth: "2019-03-04".into(),
            year: year.clone(),
            class: "PP".into(),
            guardian_cid: "11512000123".into(),
            guardian_relationship: "mother".into(),
            ..Default::default()
        };
        let v = input.validate(&school, now).unwrap();
        domain::enrol(&db, &principal, &school, &v, now).await.unwrap();
        let e = domain::enrol(&db, &principal, &school, &v, now).await.unwrap_err();
        assert!(matches!(e, agency_kit::Error::Conflict(_)), "{e:?}");
        assert_eq!(count(&db, "enrolments").await, 1);
        assert_eq!(count(&db, "guardians").await, 1);

        // Next year at another school: the child as first recorded, with a recorded guardian.
        let next = (domain::current_year(now).unwrap().get() + 1).to_string();
        let lmss = domain::school(&db, "THI-LMSS").await.unwrap().unwrap();
        let lmss_principal = StaffRole { unit: "THI-LMSS".into(), ..principal.clone() };
        let later = |change: fn(&mut domain::EnrolIn)| {
            let mut i = domain::EnrolIn { year: next.clone(), ..input.clone() };
            change(&mut i);
            i.validate(&lmss, now).unwrap()
        };
        for (wrong, says) in [
            (later(|i| i.name = "Someone Else".into()), "another name or date of birth"),
            (later(|i| i.date_of_birth = "2019-03-05".into()), "another name or date of birth"),
            (later(|i| i.guardian_cid = "10406007008".into()), "None of the guardians given is recorded"),
        ] {
            let e = domain::enrol(&db, &lmss_principal, &lmss, &wrong, now).await.unwrap_err();
            assert!(matches!(e, agency_kit::Error::Conflict(_)) && e.to_string().contains(says), "{e}");
        }
        assert_eq!((count(&db, "enrolments").await, count(&db, "guardians").await), (1, 1), "nothing changed");
        let with_father = later(|i| {
            i.name = "tashi dema".into();
            i.guardian2_cid = "10406007008".into();
            i.guardian2_relationship = "father".into();
        });
        domain::enrol(&db, &lmss_principal, &lmss, &with_father, now).await.unwrap();
        assert_eq!((count(&db, "enrolments").await, count(&db, "guardians").await), (2, 2));
        let enrolled = audit::with_action(&db, "student_enrolled", 10).await.unwrap();
        assert_eq!(enrolled[0].detail["guardians_added"][0]["cid"], "10406007008", "the guardians see who was added");

        let child = Cid::parse("10101009876").unwrap();
        let teacher = StaffRole { role: domain::TEACHER.into(), name: "T".into(), ..principal.clone() };
        let mark = |subject: &str, value: &str| domain::MarkIn {
            year: year.clone(),
            term: "term1".into(),
            subject: subject.into(),
            mark: value.into(),
        };
        let r = domain::record_mark(&db, &teacher, &school, &child, &mark("EVS", "88"), now).await.unwrap();
        assert_eq!(r, domain::MarkChange::Recorded);
        let r = domain::record_mark(&db, &teacher, &school, &child, &mark("EVS", "88"), now).await.unwrap();
        assert_eq!(r, domain::MarkChange::Unchanged);
        let r = domain::record_mark(&db, &teacher, &school, &child, &mark("EVS", "90"), now).await.unwrap();
        assert_eq!(r, domain::MarkChange::Changed { previous: 88 });
        assert_eq!(
            audit::with_action(&db, "mark_recorded", 10).await.unwrap().len(),
            1,
            "the same mark again is no change"
        );
        let e = domain::record_mark(&db, &teacher, &school, &child, &mark("SCI", "70"), now).await.unwrap_err();
        assert!(e.to_string().contains("Science is not taught in PP"), "{e}");
        let elsewhere = domain::school(&db, "THI-LMSS").await.unwrap().unwrap();
        let e = domain::record_mark(&db, &teacher, &elsewhere, &child, &mark("EVS", "10"), now).await.unwrap_err();
        assert!(e.to_string().contains("not enrolled here"), "{e}");
        assert_eq!(count(&db, "marks").await, 1);

        // A report card keeps the marks as issued.
        let y = domain::AcademicYear::parse(&year, now).unwrap();
        let card = domain::issue(&db, &principal, &school, &child, y, domain::Term::Term1, now).await.unwrap();
        domain::record_mark(&db, &teacher, &school, &child, &mark("EVS", "95"), now).await.unwrap();
        let stored = domain::report_card(&db, &card.number).await.unwrap().unwrap();
        assert_eq!(stored.marks[0].mark, 90);
        assert_eq!(stored.superseded_by, None);
    }
}

fn emis_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_emis"));
    c.current_dir(dir).env("EMIS_DATA_DIR", dir.join("data")).env_remove("EMIS_DATABASE_URL");
    c
}

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = emis_cmd(dir).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, help) = run(d, &["--help"]);
    assert!(ok && help.contains("EMIS_DATABASE_URL") && help.contains("emis.enrolment"), "{help}");
    assert!(
        help.contains("EMIS_SERVICE_CLIENT_ID") && help.contains("national_id seal"),
        "how to register the seal: {help}"
    );
    let (ok, out) = run(d, &["migrate"]);
    assert!(ok, "{out}");
    assert!(d.join("data/emis.db").exists(), "SQLite in ./data by default");
    let (ok, out) = run(d, &["schools", "list"]);
    assert!(ok && out.contains("THI-LMSS") && out.contains("(provisional: to be checked)"), "{out}");
    let (ok, out) = run(d, &["staff", "add", "123", "--role", "teacher", "--school", "THI-LMSS", "--name", "X"]);
    assert!(!ok && out.contains("A CID is 11 digits"), "{out}");
    let (ok, out) = run(d, &["staff", "add", "10101001234", "--role", "principal", "--name", "X"]);
    assert!(!ok && out.contains("--school"), "clap asks for the school: {out}");
    let (ok, out) =
        run(d, &["staff", "add", "10101001234", "--role", "principal", "--school", "thi-lmss", "--name", "Karma"]);
    assert!(ok && out.contains("Karma is principal at THI-LMSS"), "{out}");
    let (ok, out) = run(d, &["staff", "list"]);
    assert!(ok && out.contains("10101001234\tprincipal\tTHI-LMSS\tKarma"), "{out}");
    std::fs::write(d.join("bad.csv"), "code,name,dzongkhag,level\nX-1,,Paro,primary\n").unwrap();
    let (ok, out) = run(d, &["schools", "import", "bad.csv"]);
    assert!(!ok && out.contains("line 2"), "{out}");
    std::fs::write(
        d.join("good.csv"),
        "code,name,dzongkhag,level\nTHI-LMSS,Lungtenzampa MSS,Thimphu,middle_secondary\n",
    )
    .unwrap();
    let (ok, out) = run(d, &["schools", "import", "good.csv"]);
    assert!(ok && out.contains("added 0, updated 1"), "{out}");
    let (ok, out) = run(d, &["--config", "missing.toml", "migrate"]);
    assert!(!ok && out.contains("missing.toml: no such file"), "{out}");
}
