//! The operator's CLI, run as a real process on an embedded database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::{path::Path, process::Command};

use serde_json::Value;

fn idp(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_idp"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("IDP_CONFIG")
        .env("IDP_DATA_DIR", dir.join("data"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HEADER: &str =
    "cid,given_name,middle_name,family_name,date_of_birth,sex,dzongkhag,gewog,village,household_number,status\n";

#[test]
fn help_lists_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = idp(dir.path(), &["--help"]);
    assert_eq!(code, 0);
    for c in ["serve", "migrate", "client", "keys", "registry", "citizen", "audit"] {
        assert!(out.contains(c), "{c} missing from help:\n{out}");
    }
}

#[test]
fn clients_are_added_listed_shown_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = idp(
        d,
        &[
            "client",
            "add",
            "--name",
            "ePIS",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--redirect-uri",
            "https://epis.gov.bt/cb",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let id = v["client_id"].as_str().unwrap().to_string();
    assert_eq!(v["client_secret"].as_str().unwrap().len(), 43);

    let (code, out, _) = idp(d, &["client", "list", "--json"]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["client_id"], id.as_str());
    assert!(list[0].get("client_secret").is_none(), "secrets are never listed");
    assert!(!out.contains(v["client_secret"].as_str().unwrap()));

    let (code, out, _) = idp(d, &["client", "show", &id, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["redirect_uris"][0], "https://epis.gov.bt/cb");

    // Bad registrations are refused with a reason and store nothing.
    let (code, _, err) = idp(
        d,
        &["client", "add", "--name", "x", "--grant", "authorization_code", "--redirect-uri", "http://evil.example/cb"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("https"), "{err}");
    let (code, _, err) =
        idp(d, &["client", "add", "--name", "x", "--grant", "client_credentials", "--auth-method", "none"]);
    assert_ne!(code, 0);
    assert!(err.contains("public client"), "{err}");
    let (_, out, _) = idp(d, &["client", "list", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().len(), 1);

    let (code, _, _) = idp(d, &["client", "remove", &id]);
    assert_eq!(code, 0);
    let (code, _, err) = idp(d, &["client", "remove", &id]);
    assert_ne!(code, 0);
    assert!(err.contains("not found"));
}

#[test]
fn registry_import_is_all_or_nothing_and_idempotent_then_citizens_are_issued() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = format!(
        "{HEADER}10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive\n1234,Dorji,,,1990-01-01,M,Paro,Lungnyi,Jiwna,1,alive\n"
    );
    std::fs::write(d.join("bad.csv"), bad).unwrap();
    let (code, _, err) = idp(d, &["registry", "import", "bad.csv"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 3") && err.contains("cid"), "{err}");
    // Nothing was imported: the good row's person cannot be issued.
    let (code, _, err) = idp(d, &["citizen", "issue", "10101001234"]);
    assert_ne!(code, 0);
    assert!(err.contains("not in the civil registry"), "{err}");

    let good = format!(
        "{HEADER}10101001234,Karma,,Wangchuk,1990-04-01,M,Thimphu,Chang,Motithang,HH-12,alive\n11512000123,Pema,,,1985-12-31,F,Paro,Lungnyi,Jiwna,7,deceased\n"
    );
    std::fs::write(d.join("good.csv"), good).unwrap();
    let (code, out, err) = idp(d, &["registry", "import", "good.csv", "--json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((s["rows"].as_u64(), s["written"].as_u64()), (Some(2), Some(2)));
    let (_, out, _) = idp(d, &["registry", "import", "good.csv", "--json"]);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((s["written"].as_u64(), s["unchanged"].as_u64()), (Some(0), Some(2)), "re-import changes nothing");

    let (code, out, err) = idp(d, &["citizen", "issue", "10101001234", "--json"]);
    assert_eq!(code, 0, "{err}");
    let issued: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(issued["activation_code"].as_str().unwrap().len(), 19);
    assert!(issued["activation_url"].as_str().unwrap().ends_with("/activate"));
    let (code, _, err) = idp(d, &["citizen", "issue", "11512000123"]);
    assert_ne!(code, 0);
    assert!(err.contains("deceased"), "{err}");
    let (code, _, err) = idp(d, &["citizen", "issue", "12345"]);
    assert_ne!(code, 0);
    assert!(err.contains("11 digits"), "{err}");
}

#[tokio::test]
async fn audit_verify_detects_edits_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for name in ["a", "b", "c"] {
        let (code, _, err) =
            idp(d, &["client", "add", "--name", name, "--grant", "client_credentials", "--scope", "x"]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, _) = idp(d, &["audit", "verify", "--json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Intact"));

    let url = format!("sqlite://{}", d.join("data/idp.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET subject = 'client:someone-else' WHERE seq = 2").execute(&pool).await.unwrap();
    let (code, out, _) = idp(d, &["audit", "verify"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("entry 2") && out.contains("edited"), "{out}");

    // Undo the edit is impossible without the original; instead delete the middle entry.
    sqlx::query("DELETE FROM audit_log WHERE seq = 2").execute(&pool).await.unwrap();
    let (code, out, _) = idp(d, &["audit", "verify"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("deleted"), "{out}");
    pool.close().await;
}

#[test]
fn keys_rotate_publishes_ahead_and_lists_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = idp(d, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = idp(d, &["keys", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("published now"));
    let (code, out, _) = idp(d, &["keys", "list", "--json"]);
    assert_eq!(code, 0);
    let keys: Value = serde_json::from_str(&out).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|k| k["retires_at"].is_i64()), "the old key is scheduled to retire");
    let (code, _, err) = idp(d, &["keys", "rotate", "--alg", "HS256"]);
    assert_ne!(code, 0);
    assert!(err.contains("unsupported"), "{err}");
}

#[test]
fn a_bad_configuration_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idp.toml"), "issuer = \"http://id.gov.bt\"\n").unwrap();
    let (code, _, err) = idp(dir.path(), &["migrate"]);
    assert_eq!(code, 2);
    assert!(err.contains("https"), "{err}");
    std::fs::write(dir.path().join("idp.toml"), "no_such_key = 1\n").unwrap();
    let (code, _, err) = idp(dir.path(), &["migrate"]);
    assert_eq!(code, 2);
    assert!(err.contains("no_such_key"), "{err}");
}
