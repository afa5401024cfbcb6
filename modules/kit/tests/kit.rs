//! The kit against real databases (SQLite always; PostgreSQL when `TEST_POSTGRES_URL` is set)
//! and its HTTP layers through a real router.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use agency_kit::{
    audit::{self, Entry},
    db::{Db, Migrations},
    staff::{self, StaffRole},
    web::{CsrfToken, Page},
};
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
    routing::{get, post},
};
use tower::ServiceExt;

fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./tests/migrations/sqlite"),
        postgres: sqlx::migrate!("./tests/migrations/postgres"),
    }
}

/// The databases to run on: SQLite in a temporary folder, and a fresh PostgreSQL database when
/// `TEST_POSTGRES_URL` is set (skipped loudly otherwise; a failure under
/// `IDP_REQUIRE_ALL_SUITES=1`).
async fn databases(dir: &std::path::Path) -> Vec<Db> {
    // Twice on the same file: migrations are idempotent.
    Db::connect(&agency_kit::db::default_url(dir, "kit"), migrations()).await.unwrap().pool().close().await;
    let mut out = vec![Db::connect(&agency_kit::db::default_url(dir, "kit"), migrations()).await.unwrap()];
    match std::env::var("TEST_POSTGRES_URL") {
        Ok(url) => {
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&url).await.unwrap();
            let name = format!("kit_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
            let (base, _) = url.rsplit_once('/').unwrap();
            out.push(Db::connect(&format!("{base}/{name}"), migrations()).await.unwrap());
        }
        Err(_) => {
            assert!(
                std::env::var("IDP_REQUIRE_ALL_SUITES").as_deref() != Ok("1"),
                "TEST_POSTGRES_URL is not set but IDP_REQUIRE_ALL_SUITES=1"
            );
            eprintln!("SKIPPED: agency-kit PostgreSQL suite (set TEST_POSTGRES_URL)");
        }
    }
    out
}

#[tokio::test]
async fn roles_and_audit_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        sqlx::query("INSERT INTO notes (id, body) VALUES (1, 'module tables exist')").execute(db.pool()).await.ok();
        let nurse = StaffRole {
            cid: "10101001234".into(),
            role: "health_worker".into(),
            unit: "JDWNRH".into(),
            name: "Karma Wangchuk".into(),
        };
        staff::grant(&db, &nurse, "operator", 100).await.unwrap();
        staff::grant(&db, &nurse, "operator", 101).await.unwrap();
        assert_eq!(staff::roles_of(&db, "10101001234").await.unwrap(), vec![nurse.clone()], "idempotent");
        let bad = StaffRole { cid: "123".into(), ..nurse.clone() };
        assert!(staff::grant(&db, &bad, "operator", 100).await.is_err());
        let bad = StaffRole { role: String::new(), ..nurse.clone() };
        assert!(staff::grant(&db, &bad, "operator", 100).await.is_err());

        assert_eq!(staff::require(&db, &nurse.cid, "health_worker", Some("JDWNRH"), "x", 102).await.unwrap(), nurse);
        staff::require(&db, &nurse.cid, "health_worker", None, "x", 102).await.unwrap();
        let e = staff::require(&db, &nurse.cid, "health_worker", Some("Paro Hospital"), "patient:1", 103).await;
        assert!(matches!(e, Err(agency_kit::Error::Forbidden(_))));
        assert!(staff::require(&db, "11512000123", "registrar", None, "birth:7", 104).await.is_err());
        let denied = audit::with_action(&db, "role_denied", 10).await.unwrap();
        assert_eq!(denied.len(), 2);
        assert!(denied.iter().all(|e| e.flagged));
        assert_eq!(denied[0].subject, "birth:7", "newest first");

        audit::record(&db, &Entry::new("staff:10101001234", "record_viewed", "patient:2").flagged(), 200)
            .await
            .unwrap();
        audit::record(&db, &Entry::new("citizen:2", "record_viewed", "patient:2"), 201).await.unwrap();
        let about = audit::about(&db, "patient:2", 10).await.unwrap();
        assert_eq!(about.iter().map(|e| e.at).collect::<Vec<_>>(), [201, 200]);
        assert!(about[1].flagged && !about[0].flagged);
    }
}

async fn form(csrf: CsrfToken, body: String) -> Result<&'static str, agency_kit::Error> {
    let field = body.strip_prefix("csrf=").unwrap_or_default();
    csrf.check(field)?;
    Ok("done")
}

#[tokio::test]
async fn layers_protect_every_response() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&agency_kit::db::default_url(dir.path(), "web"), migrations()).await.unwrap();
    let app = agency_kit::server::wrap(
        Router::new()
            .route("/", get(|csrf: CsrfToken| async move { Page::new("Home").paragraph(csrf.value()) }))
            .route("/form", post(form)),
        db,
        "Test agency",
    );
    let call = |req: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(req).await.unwrap() }
    };

    // A first visit gets a CSRF cookie and the security headers.
    let r = call(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie.split(';').next().unwrap().strip_prefix("csrf=").unwrap().to_string();
    assert_eq!(token.len(), 43);
    // The page names the module it was served by (per request: modules may share a process).
    let page = String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(page.contains("Test agency"), "{page}");

    // The form with the cookie's token passes; without it, with another, or with no cookie, not.
    let post_form = |cookie: Option<String>, field: &str, site: Option<&str>| {
        let mut b = Request::post("/form").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, format!("csrf={c}"));
        }
        if let Some(s) = site {
            b = b.header("sec-fetch-site", s);
        }
        b.body(Body::from(format!("csrf={field}"))).unwrap()
    };
    assert_eq!(call(post_form(Some(token.clone()), &token, Some("same-origin"))).await.status(), StatusCode::OK);
    assert_eq!(call(post_form(Some(token.clone()), "forged", None)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(call(post_form(None, &token, None)).await.status(), StatusCode::FORBIDDEN);
    // Another site's page posting into the module is refused before the handler runs.
    assert_eq!(call(post_form(Some(token.clone()), &token, Some("cross-site"))).await.status(), StatusCode::FORBIDDEN);
    // An oversized body is refused.
    let big = Request::post("/form").body(Body::from(vec![b'a'; agency_kit::server::MAX_BODY_BYTES + 1])).unwrap();
    assert_eq!(call(big).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Health reports the database.
    assert_eq!(call(Request::get("/healthz").body(Body::empty()).unwrap()).await.status(), StatusCode::OK);
    // Error pages escape what they show.
    let r = call(Request::get("/static/kit.css").body(Body::empty()).unwrap()).await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let page = Page::new("<b>").paragraph("<script>").render();
    let body = http_body_util::BodyExt::collect(page.into_body()).await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(!body.contains("<script>") && body.contains("&lt;script&gt;") && !body.contains("<b>"));
}
