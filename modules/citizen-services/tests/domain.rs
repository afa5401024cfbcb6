//! The domain against the module's own database: SQLite always, PostgreSQL when
//! `TEST_POSTGRES_URL` is set (skipped loudly otherwise; a failure under
//! `IDP_REQUIRE_ALL_SUITES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::HashMap;

use agency_kit::{audit, db::Db, staff::StaffRole};
use citizen_services::{
    Catalogue,
    applications::{self, Applicant, Decision, Notify, Status},
    signing,
};

async fn databases(dir: &std::path::Path) -> Vec<Db> {
    let url = agency_kit::db::default_url(dir, "citizen-services");
    // Twice on the same file: the migrations are idempotent.
    citizen_services::open_db(&url).await.unwrap().pool().close().await;
    let mut out = vec![citizen_services::open_db(&url).await.unwrap()];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) => {
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&url).await.unwrap();
            let name = format!("kit_test_cs_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
            admin.close().await;
            let (base, _) = url.rsplit_once('/').unwrap();
            out.push(citizen_services::open_db(&format!("{base}/{name}")).await.unwrap());
        }
        Err(_) => {
            assert!(
                std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() != Ok("1"),
                "TEST_POSTGRES_URL is not set but IDP_REQUIRE_ALL_SUITES=1"
            );
            eprintln!("SKIPPED: citizen-services PostgreSQL suite (set TEST_POSTGRES_URL)");
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(db.pool()).await.unwrap()
}

#[tokio::test]
async fn apply_review_issue_and_stop_the_pension_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = Catalogue::built_in().unwrap();
    let today = time::macros::date!(2026 - 06 - 01);
    let now = 1_780_000_000;
    for db in databases(dir.path()).await {
        let parent = Applicant::new("11512000123", "Pema Choden").unwrap();
        assert!(Applicant::new("", "No CID").is_err(), "a login without the CID cannot apply");
        let registrar = StaffRole {
            cid: "10101001234".into(),
            role: "registrar".into(),
            unit: "DCRC".into(),
            name: "Karma Wangchuk".into(),
        };
        agency_kit::staff::grant(&db, &registrar, "operator", now).await.unwrap();

        // Bad input is refused before anything is stored.
        let birth = catalogue.get("birth-registration").unwrap();
        let bad = form(&[("given_name", "Sonam"), ("date_of_birth", "tomorrow")]);
        let errors = birth.validate(&bad, today).unwrap_err();
        assert!(errors.get("date_of_birth").is_some() && errors.get("sex").is_some());
        assert_eq!(count(&db, "applications").await, 0);

        let good = form(&[
            ("given_name", "Sonam"),
            ("family_name", "Wangmo"),
            ("date_of_birth", "2026-05-20"),
            ("sex", "F"),
            ("dzongkhag", "Paro"),
            ("gewog", "Lungnyi"),
            ("village", "Jiwna"),
            ("household_number", "7"),
            ("mother_cid", "11512000123"),
            ("place_of_birth", "Paro Hospital"),
        ]);
        let app = applications::submit(&db, birth, &parent, birth.validate(&good, today).unwrap(), now).await.unwrap();
        assert_eq!((app.status, app.notify), (Status::Submitted, Notify::None));
        assert_eq!(app.data["given_name"], "Sonam");
        assert_eq!(applications::queue(&db, "registrar", "DCRC").await.unwrap().len(), 1);
        assert!(applications::queue(&db, "registrar", "Paro").await.unwrap().is_empty(), "another office's queue");
        assert_eq!(applications::of_applicant(&db, "11512000123").await.unwrap().len(), 1);

        // Rejecting needs a note; a note with control characters or too long is refused.
        for (d, note) in
            [(Decision::Reject, ""), (Decision::Approve, "a\u{7}b"), (Decision::Approve, &"x".repeat(1001))]
        {
            let e = applications::decide(&db, &catalogue, &app, &registrar, d, note, None, now + 1).await.unwrap_err();
            assert!(matches!(e, agency_kit::Error::BadRequest(_)), "{e}");
        }
        // An officer may not decide their own application.
        let own = StaffRole { cid: "11512000123".into(), ..registrar.clone() };
        let e =
            applications::decide(&db, &catalogue, &app, &own, Decision::Approve, "", None, now + 1).await.unwrap_err();
        assert!(matches!(e, agency_kit::Error::Forbidden(_)));
        assert_eq!(audit::with_action(&db, "own_application_refused", 5).await.unwrap().len(), 1);
        assert_eq!(applications::get(&db, &app.id).await.unwrap().unwrap().status, Status::Submitted);

        // Approval: a certificate, the notification pending (a life event); a second decision
        // is a conflict.
        let approved =
            applications::decide(&db, &catalogue, &app, &registrar, Decision::Approve, "checked", None, now + 2)
                .await
                .unwrap();
        assert_eq!((approved.status, approved.notify), (Status::Approved, Notify::Pending));
        assert_eq!(approved.decided_by.as_deref(), Some("staff:10101001234"));
        let e = applications::decide(&db, &catalogue, &app, &registrar, Decision::Reject, "no", None, now + 3).await;
        assert!(matches!(e, Err(agency_kit::Error::Conflict(_))));
        let cert = applications::certificate(&db, None, Some(&app.id)).await.unwrap().unwrap();
        assert_eq!(cert.title, "Birth certificate");
        assert!(cert.summary.contains("Sonam Wangmo") && !cert.summary.contains("11512000123"), "{}", cert.summary);
        let by_number = applications::certificate(&db, Some(&cert.number), None).await.unwrap().unwrap();
        assert_eq!(by_number.application_id, app.id);
        assert!(applications::certificate(&db, Some("BT-NOPE"), None).await.unwrap().is_none());
        assert_eq!(applications::pending_notifications(&db).await.unwrap().len(), 1);
        let mut detail = serde_json::Map::new();
        detail.insert("registry_cid".into(), "12345678901".into());
        applications::record_notification(&db, &app.id, Notify::Done, &detail, "").await.unwrap();
        let told = applications::get(&db, &app.id).await.unwrap().unwrap();
        assert_eq!((told.notify, told.notify_attempts), (Notify::Done, 1));
        assert!(applications::pending_notifications(&db).await.unwrap().is_empty());

        // A pension starts on approval and stops (once) on a registered death.
        let pensioner = Applicant::new("10203004005", "Dorji").unwrap();
        let pension = catalogue.get("pension").unwrap();
        let p = applications::submit(
            &db,
            pension,
            &pensioner,
            pension.validate(&form(&[("bank_account", "200111"), ("bank", "Bank of Bhutan")]), today).unwrap(),
            now,
        )
        .await
        .unwrap();
        let officer = StaffRole { role: "pension_officer".into(), unit: "NPPF".into(), ..registrar.clone() };
        let p =
            applications::decide(&db, &catalogue, &p, &officer, Decision::Approve, "", None, now + 4).await.unwrap();
        assert_eq!(p.notify, Notify::None, "a pension tells no other agency");
        assert_eq!(applications::pension(&db, "10203004005").await.unwrap().unwrap().status, "active");
        assert!(applications::stop_pension(&db, "10203004005", "death registered", "system", now + 5).await.unwrap());
        assert!(!applications::stop_pension(&db, "10203004005", "death registered", "system", now + 6).await.unwrap());
        let stopped = applications::pension(&db, "10203004005").await.unwrap().unwrap();
        assert_eq!((stopped.status.as_str(), stopped.stop_reason.as_deref()), ("stopped", Some("death registered")));

        // A death registration is a service the citizen signs: stored with its canonical
        // document, waiting for the signature, not in the office's queue, not decidable.
        let death = catalogue.get("death-registration").unwrap();
        let d = applications::submit(
            &db,
            death,
            &parent,
            death
                .validate(
                    &form(&[
                        ("deceased_cid", "10203004005"),
                        ("date_of_death", "2026-05-01"),
                        ("place_of_death", "Paro"),
                        ("relationship", "other relative"),
                    ]),
                    today,
                )
                .unwrap(),
            now + 7,
        )
        .await
        .unwrap();
        assert_eq!(d.status, Status::AwaitingSignature);
        let doc = signing::ApplicationDocument::from_bytes(d.document.as_bytes()).unwrap();
        assert!(doc.matches(&d) && doc.applicant_cid == "11512000123" && doc.fields["deceased_cid"] == "10203004005");
        assert!(applications::queue(&db, "registrar", "DCRC").await.unwrap().iter().all(|a| a.id != d.id));
        for decision in [Decision::Approve, Decision::Reject] {
            let e = applications::decide(&db, &catalogue, &d, &registrar, decision, "no", None, now + 8).await;
            assert!(matches!(e, Err(agency_kit::Error::Conflict(_))), "{e:?}");
        }
        // Even marked submitted behind the module's back, it is not approved without the proof
        // that its signature verified; a verification naming someone else is no proof.
        sqlx::query("UPDATE applications SET status = 'submitted' WHERE id = $1")
            .bind(&d.id)
            .execute(db.pool())
            .await
            .unwrap();
        let d = applications::get(&db, &d.id).await.unwrap().unwrap();
        let e = applications::decide(&db, &catalogue, &d, &registrar, Decision::Approve, "", None, now + 9).await;
        assert!(matches!(e, Err(agency_kit::Error::Conflict(_))), "{e:?}");
        assert!(applications::certificate(&db, None, Some(&d.id)).await.unwrap().is_none(), "nothing issued");
        let verification = |cid: &str, valid: bool| relying_party_sdk::signing::Verification {
            valid,
            reason: None,
            signer: Some("Pema Choden".into()),
            cid: Some(cid.into()),
            agency: None,
            certificate_serial: Some("01".into()),
            signing_time: Some(now + 8),
            certificate_status: Some("good".into()),
        };
        assert!(signing::judge(&verification("10101001234", true), &d).is_err(), "someone else's signature");
        assert!(signing::judge(&verification("11512000123", false), &d).is_err(), "an invalid signature");
        let mut changed = d.clone();
        changed.data.insert("deceased_cid".into(), "10101001234".into());
        assert!(
            signing::judge(&verification("11512000123", true), &changed).is_err(),
            "the form changed after signing"
        );
        let proof = signing::judge(&verification("11512000123", true), &d).unwrap();
        assert!(proof.covers(&d) && !proof.covers(&p));
        let approved =
            applications::decide(&db, &catalogue, &d, &registrar, Decision::Approve, "", Some(&proof), now + 10)
                .await
                .unwrap();
        assert_eq!(approved.status, Status::Approved);

        // Everything was audited.
        for action in ["application_submitted", "application_approved", "pension_stopped"] {
            assert!(!audit::with_action(&db, action, 5).await.unwrap().is_empty(), "{action}");
        }
    }
}
