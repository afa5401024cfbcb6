//! The enrolment console in a real browser: an officer activates their own digital ID (a
//! passkey in Chromium's virtual authenticator), opens the console, finds a person in the
//! registry, and clicks "capture": the page's script discovers the device simulator on
//! 127.0.0.1 (MOSIP SBI, ports 4501-4600), has it capture ten fingers, then finds the camera the
//! same service hosts and has it take the face photo, shows the photo, forwards both signed
//! answers, and shows the activation code — which then activates the new citizen's digital ID.
//!
//! Ids are the contract with idp/templates/enrol.html: `#capture`, `#result`,
//! `#activation-code`, `#activation-qr`, `#status`, `#face`, `#face-photo`, `#face-quality`.

use biometric_adapter::sbi::simulator::SimulatorConfig;
use idp::domain::cid::Cid;

use super::{Browser, chromium, story::STEP};
use crate::{
    authenticator::ResidentSoftPasskey,
    citizen,
    enrol::{devices, simulator},
    support::{self, Backend},
};

const OFFICER: &str = "10101001234";
const PERSON: &str = "11512000123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_enrols_through_the_console() {
    let Some(chromium) = chromium() else { return };
    let devices = devices();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("device-cas.pem");
    std::fs::write(&ca, devices.provider.ca_pem()).unwrap();
    let Some(idp) = support::start_with(Backend::Sqlite, |c| c.enrolment.trusted_device_cas = ca.clone()).await else {
        return;
    };
    let state = idp.state();
    let now = idp::domain::now();
    let today = time::OffsetDateTime::now_utc().date();
    state
        .import_registry(
            idp::domain::registry::parse_csv(citizen::CSV.as_bytes(), today, 10),
            "b.csv",
            "operator",
            now,
            &mut |_| {},
        )
        .await
        .unwrap()
        .unwrap();
    let centre = idp::enrolment::CentreCode::parse("THI-01").unwrap();
    idp::enrolment::add_centre(state, &centre, "Thimphu", "Thimphu", now).await.unwrap();
    let code = state.issue_citizen(&Cid::parse(OFFICER).unwrap(), "operator", now).await.unwrap().activation_code;
    let config = SimulatorConfig { seed: 31, subjects: 5, duplicates: 0, ..SimulatorConfig::default() };
    let (port, sim) = simulator(config, &devices.device, devices.provider.ca_pem(), true).await;
    sim.present(2).unwrap();

    let browser = Browser::launch(&chromium).await.unwrap();
    let page = browser.new_page().await.unwrap();
    page.add_virtual_authenticator().await.unwrap();
    page.guard(super::story::activate(&page, &idp.base, OFFICER, &code)).await;
    idp::enrolment::add_officer(
        state,
        &Cid::parse(OFFICER).unwrap(),
        &centre,
        idp::enrolment::Role::EnrolmentOfficer,
        "operator",
        now,
    )
    .await
    .unwrap();

    let base = idp.base.clone();
    let issued = page
        .guard(async {
            page.navigate(&format!("{base}/enrol?cid={PERSON}")).await?;
            page.wait_for_selector("#capture", STEP).await?;
            page.click("#capture").await?;
            // Discovery, ten captures, verification and de-duplication; a capture below the
            // quality threshold is retried as an officer would.
            for _ in 0..5 {
                page.wait_for(
                    "!document.getElementById('capture').disabled && (document.getElementById('result').hidden === false || (document.getElementById('status').textContent || '').length > 0)",
                    STEP,
                )
                .await?;
                let status = page.evaluate("document.getElementById('status').textContent").await?;
                if status.as_str().is_some_and(|s| s.contains("recapture needed")) {
                    page.click("#capture").await?;
                    continue;
                }
                break;
            }
            page.wait_for("document.getElementById('result').hidden === false", STEP).await?;
            let code = page.evaluate("document.getElementById('activation-code').textContent").await?;
            let qr = page.evaluate("document.getElementById('activation-qr').src").await?;
            let fingers = page.evaluate("document.querySelectorAll('#fingers li').length").await?;
            let face = page
                .evaluate(
                    "[document.getElementById('face').hidden, document.getElementById('face-photo').src, \
                     document.getElementById('face-photo').naturalWidth, document.getElementById('face-quality').textContent]",
                )
                .await?;
            Ok((code, qr, fingers, face))
        })
        .await;
    let (code, qr, fingers, face) = issued;
    // The photo is shown to the officer, decoded by the browser at its size, with its quality.
    assert_eq!(face[0], false, "the photo is shown: {face}");
    assert!(face[1].as_str().unwrap().starts_with("data:image/jpeg;base64,/9j/"), "a JPEG preview: {face}");
    assert_eq!(face[2], 120, "the browser decoded the photo: {face}");
    assert!(face[3].as_str().unwrap().starts_with("Face photo: quality "), "{face}");
    eprintln!("officer_enrols_through_the_console: simulator on port {port}, {fingers} fingers shown");
    assert_eq!(fingers, 10, "the page lists the quality of each of the ten fingers");
    assert!(qr.as_str().unwrap().starts_with("data:image/svg+xml;base64,"), "a QR code to print");
    let code = code.as_str().unwrap().to_string();
    assert_eq!(code.len(), 19, "an activation code XXXX-XXXX-XXXX-XXXX: {code}");

    // The code from the console activates the new citizen's digital ID, at loa:high.
    citizen::activate(&citizen::Browser::new(&idp.base), &mut ResidentSoftPasskey::new(), PERSON, &code).await;
    let account = idp::store::login::account_by_cid(&state.db, PERSON).await.unwrap().unwrap();
    assert_eq!((account.status.as_str(), account.assurance.as_str()), ("active", "urn:drukyul:loa:high"));
    // The packet keeps the camera's photo of the person presenting (subject 2).
    let photo = idp::enrolment::enrolled_face_photo(state, &account.id).await.unwrap().expect("a photo in the packet");
    assert_eq!(photo, biometric_adapter::sbi::face::synthetic_photo(2).unwrap());
    idp.stop().await;
}
