//! Enrolment: registration centres, officers and their roles (the console, de-duplication and
//! adjudication build on these), on SQLite and PostgreSQL, and the operator's commands through
//! the real binary.

use idp::{
    domain::cid::Cid,
    enrolment::{self, CentreCode, Role},
};

use crate::{
    authenticator::ResidentSoftPasskey,
    both_backends,
    citizen::{self, Browser},
    cluster::{cli, envs, free_port, idp_binary},
    support::{self, Backend},
};

async fn officers_and_roles(backend: Backend) {
    let Some(idp) = support::start(backend).await else { return };
    let state = idp.state();
    let now = idp::domain::now();
    let code = citizen::import_and_issue(&idp, "10101001234").await;
    let karma = Cid::parse("10101001234").unwrap();
    let pema = Cid::parse("11512000123").unwrap();
    state.issue_citizen(&pema, "operator", now).await.unwrap();
    let thimphu = CentreCode::parse("THI-01").unwrap();

    // Centres: added once, with checked names.
    enrolment::add_centre(state, &thimphu, "Thimphu Dzongkhag Administration", "Thimphu", now).await.unwrap();
    assert!(enrolment::add_centre(state, &thimphu, "Again", "Thimphu", now).await.is_err(), "codes are unique");
    let paro = CentreCode::parse("PAR-01").unwrap();
    assert!(enrolment::add_centre(state, &paro, "Paro\u{0}", "Paro", now).await.is_err(), "control characters");
    assert_eq!(idp::store::enrolment::centres(&state.db).await.unwrap().len(), 1, "nothing stored for bad input");

    // Only an activated digital ID can hold a role (officers log in with their own passkeys),
    // and only at a centre that exists.
    let err = enrolment::add_officer(state, &karma, &thimphu, Role::Supervisor, "operator", now).await.unwrap_err();
    assert!(err.to_string().contains("pending"), "{err}");
    citizen::activate(&Browser::new(&idp.base), &mut ResidentSoftPasskey::new(), "10101001234", &code).await;
    assert!(enrolment::add_officer(state, &karma, &paro, Role::Supervisor, "operator", now).await.is_err());
    assert!(idp::store::enrolment::officers(&state.db).await.unwrap().is_empty());
    let o = enrolment::add_officer(state, &karma, &thimphu, Role::Supervisor, "operator", now).await.unwrap();
    assert_eq!((o.role.as_str(), o.centre.as_str()), ("supervisor", "THI-01"));

    // A supervisor may do what an officer may, not what an administrator may; refusals are
    // audited. Pema has no role at all.
    let account = o.account_id.clone();
    enrolment::require(state, &account, Role::EnrolmentOfficer, "enrolment:console", now).await.unwrap();
    enrolment::require(state, &account, Role::Supervisor, "enrolment:adjudication", now).await.unwrap();
    let e = enrolment::require(state, &account, Role::Administrator, "enrolment:officers", now).await.unwrap_err();
    assert!(matches!(e, idp::error::Error::Forbidden(_)), "{e}");
    let pema_account = idp::store::login::account_by_cid(&state.db, pema.as_str()).await.unwrap().unwrap().id;
    assert!(enrolment::require(state, &pema_account, Role::EnrolmentOfficer, "enrolment:console", now).await.is_err());

    // Removing the role, or closing the officer's digital ID, takes effect at once.
    enrolment::remove_officer(state, &karma, "operator", now).await.unwrap();
    assert!(enrolment::remove_officer(state, &karma, "operator", now).await.is_err(), "already removed");
    assert!(enrolment::require(state, &account, Role::EnrolmentOfficer, "enrolment:console", now).await.is_err());
    enrolment::add_officer(state, &karma, &thimphu, Role::EnrolmentOfficer, "operator", now).await.unwrap();
    enrolment::require(state, &account, Role::EnrolmentOfficer, "enrolment:console", now).await.unwrap();
    state.close_citizen(&karma, idp::app::CloseReason::Compromised, "operator", now).await.unwrap();
    assert!(enrolment::require(state, &account, Role::EnrolmentOfficer, "enrolment:console", now).await.is_err());

    let events: Vec<String> =
        idp::store::audit::page(&state.db, 0, 1000).await.unwrap().into_iter().map(|e| e.body.event).collect();
    for e in ["centre_added", "officer_added", "officer_removed", "officer_denied"] {
        assert!(events.iter().any(|x| x == e), "{e} audited: {events:?}");
    }
    assert_eq!(events.iter().filter(|x| *x == "officer_denied").count(), 4);
    idp.stop().await;
}
both_backends!(officers_and_roles);

/// `idp centre ...` and `idp officer ...` through the real binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn centre_and_officer_commands() {
    let db = support::fresh_db(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let env = envs(&db.url, &format!("http://localhost:{port}"), port, dir.path());
    cli(&env, &["migrate"]);
    let csv = dir.path().join("registry.csv");
    std::fs::write(&csv, citizen::CSV).unwrap();
    cli(&env, &["registry", "import", csv.to_str().unwrap()]);
    let fails = |args: &[&str]| {
        let out = std::process::Command::new(idp_binary())
            .args(args)
            .envs(env.iter().cloned())
            .env_remove("IDP_CONFIG")
            .output()
            .unwrap();
        assert!(!out.status.success(), "idp {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(cli(&env, &["centre", "list"]).contains("no centres"));
    cli(&env, &["centre", "add", "THI-01", "--name", "Thimphu Dzongkhag Administration", "--dzongkhag", "Thimphu"]);
    assert!(fails(&["centre", "add", "thi 01", "--name", "x", "--dzongkhag", "y"]).contains("centre code"));
    let centres: serde_json::Value = serde_json::from_str(&cli(&env, &["centre", "list", "--json"])).unwrap();
    assert_eq!(centres[0]["code"], "THI-01");
    cli(&env, &["citizen", "issue", "10101001234"]);
    assert!(fails(&["officer", "add", "10101001234", "--centre", "THI-01"]).contains("pending"));
    assert!(fails(&["officer", "add", "10101001234", "--centre", "THI-01", "--role", "king"]).contains("role must be"));
    assert!(fails(&["officer", "remove", "11512000123"]).contains("no digital ID"));
    assert!(cli(&env, &["officer", "list"]).contains("no officers"));
    assert!(cli(&env, &["audit", "verify"]).contains("intact"));
}
