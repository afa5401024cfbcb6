//! `drukyul-demo`: the whole system in one command, on embedded SQLite, for a first look.
//!
//! It runs, each on its own port and its own database under `--data` (default `data/demo`):
//! the identity provider with the signer and the enrolment console (8080), the MOSIP SBI device
//! simulator (4501, where the console's discovery finds it), Integrated Citizen Services (8081),
//! ePIS (8082), EMIS (8083) and e-business (8084).
//!
//! The first start prepares demo data through the same domain functions the CLIs use: a small
//! civil registry, a CA, a registration centre with an enrolment officer, five citizens
//! enrolled with fingerprints and a face photo from the simulator (de-duplicated like any
//! enrolment, so they log in at `loa:high`), the modules' OAuth clients, and their staff. It prints everyone's one-time
//! activation code. Later starts reuse all of it (`--reset` starts over).
//!
//! Nothing here is a shortcut around the real code: the modules are the real applications with
//! their own databases, talking to the identity provider over HTTP like any agency would.
#![forbid(unsafe_code)]

// The software authenticator of the load generator and the tests (its `unwrap`s are a test
// tool's): the demo activates its first officer with it, as a browser would.
#[path = "../e2e/authenticator.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod authenticator;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use biometric_adapter::sbi::{
    jws::JwsAlg,
    simulator::{DeviceProvider, Simulator, SimulatorConfig},
};
use clap::Parser;
use idp::domain::{
    cid::Cid,
    client::{AuthMethod, ClientMetadata, GrantType, RedirectUri, Scope},
    keys::SigningAlg,
};
use serde::{Deserialize, Serialize};

/// Start the whole Drukyul ID system on embedded SQLite, with demo data.
#[derive(Parser, Debug)]
#[command(name = "drukyul-demo", version, about, long_about = None)]
struct Cli {
    /// Where every database and key of the demo lives.
    #[arg(long, default_value = "data/demo")]
    data: PathBuf,
    /// Delete the demo's data first and prepare it again.
    #[arg(long)]
    reset: bool,
}

const IDP: u16 = 8080;
const CITIZEN_SERVICES: u16 = 8081;
const EPIS: u16 = 8082;
const EMIS: u16 = 8083;
const EBIZ: u16 = 8084;
const DEVICE: u16 = 4501;

/// The demo's civil registry (the census export's columns, see `idp registry import`).
const REGISTRY: &str =
    "cid,given_name,middle_name,family_name,date_of_birth,sex,dzongkhag,gewog,village,household_number,status
10000000018,Karma,,Wangchuk,1985-03-14,M,Thimphu,Chang,Motithang,TH-101,alive
10000000026,Pema,,Choden,1990-07-02,F,Paro,Lungnyi,Jiwna,PA-207,alive
10000000034,Sonam,,Tshering,1982-11-23,M,Thimphu,Kawang,Dechencholing,TH-233,alive
10000000042,Dechen,,Wangmo,1979-01-30,F,Thimphu,Chang,Changzamtog,TH-118,alive
10000000059,Tashi,,Dorji,1988-05-09,M,Paro,Lamgong,Bondey,PA-144,alive
10000000067,Ugyen,,Lhamo,1944-09-17,F,Punakha,Guma,Lobesa,PU-031,alive
10000000075,Kinley,,Wangdi,1995-12-12,M,Bumthang,Chhoekhor,Jakar,BU-052,alive
10000000083,Yeshey,,Zangmo,2001-04-04,F,Trashigang,Samkhar,Rangjung,TG-077,alive
10000000091,Namgay,,Dema,1999-08-21,F,Wangdue Phodrang,Bjena,Nobding,WP-012,alive
10000000109,Dawa,,Penjor,1975-06-06,M,Mongar,Mongar,Kilikhar,MO-098,alive
";

/// Who is who: CID, name, what they do in the demo, and the simulator subject whose fingers
/// they present (`None`: issued by the operator, as the first officer must be).
const CAST: &[(&str, &str, &str, Option<u64>)] = &[
    ("10000000018", "Karma Wangchuk", "enrolment supervisor at THI-01; registrar (DCRC) in citizen services", None),
    ("10000000026", "Pema Choden", "a parent: registers a birth, applies for a trade licence", Some(1)),
    ("10000000034", "Sonam Tshering", "health worker at JDWNRH in ePIS", Some(2)),
    ("10000000042", "Dechen Wangmo", "principal of THI-LMSS in EMIS", Some(3)),
    ("10000000059", "Tashi Dorji", "licensing officer for Paro in e-business", Some(4)),
    ("10000000067", "Ugyen Lhamo", "a pensioner", Some(5)),
];

/// What the first start prepared, kept for the next (the client secrets are shown once by the
/// identity provider, so they are kept here, in the demo's own data directory).
#[derive(Serialize, Deserialize)]
struct Prepared {
    clients: Clients,
    activation: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct Clients {
    citizen_services: (String, String),
    citizen_services_service: (String, String),
    epis: (String, String),
    emis: (String, String),
    ebiz: (String, String),
}

fn url(port: u16) -> String {
    format!("http://localhost:{port}")
}

type Res<T> = Result<T, String>;

fn e<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("{what}: {err}")
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("drukyul-demo: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn listen(port: u16) -> Res<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|err| format!("port {port} is taken ({err}); stop what uses it and start again"))
}

async fn run(cli: Cli) -> Res<()> {
    if cli.reset && cli.data.exists() {
        std::fs::remove_dir_all(&cli.data).map_err(e("--reset"))?;
    }
    std::fs::create_dir_all(&cli.data).map_err(e("data directory"))?;
    let data = std::fs::canonicalize(&cli.data).map_err(e("data directory"))?;
    let state_file = data.join("demo.json");
    let first = !state_file.exists();
    let step = |s: &str| eprintln!("· {s}");

    // The scanner vendor's CA and one device, trusted by the identity provider.
    let now_t = time::OffsetDateTime::now_utc();
    let provider = DeviceProvider::generate("Demo device provider", now_t).map_err(e("device provider"))?;
    let device = provider
        .issue_device("SIM-DEMO-1", JwsAlg::ES256, now_t - time::Duration::days(1), now_t + time::Duration::days(365))
        .map_err(e("device"))?;
    let ca = data.join("device-ca.pem");
    std::fs::write(&ca, provider.ca_pem()).map_err(e("device CA"))?;

    step(&format!("identity provider on {}", url(IDP)));
    let mut config = idp::config::Config {
        issuer: url::Url::parse(&url(IDP)).map_err(e("issuer"))?,
        listen: ([127, 0, 0, 1], IDP).into(),
        data_dir: data.join("idp"),
        ..idp::config::Config::default()
    };
    config.enrolment.trusted_device_cas = ca;
    std::fs::create_dir_all(&config.data_dir).map_err(e("data directory"))?;
    let idp_listener = listen(IDP).await?;
    let state = idp::server::build(config).await.map_err(e("identity provider"))?;
    let idp_running = idp::server::spawn(state.clone(), idp_listener).map_err(e("identity provider"))?;

    step(&format!("fingerprint scanner and camera simulator on http://127.0.0.1:{DEVICE}"));
    let sim_listener = listen(DEVICE).await?;
    let sim = Simulator::new(
        SimulatorConfig { seed: 2026, subjects: 100, duplicates: 0, port: DEVICE, ..SimulatorConfig::default() },
        &device,
        provider.ca_pem().into(),
    )
    .map_err(e("simulator"))?;
    tokio::spawn(biometric_adapter::sbi::simulator::serve(sim_listener, Arc::new(sim)));

    let prepared = if first {
        let p = prepare_idp(&state).await?;
        std::fs::write(&state_file, serde_json::to_vec_pretty(&p).map_err(e("demo state"))?)
            .map_err(e("demo state"))?;
        restrict(&state_file);
        p
    } else {
        serde_json::from_slice(&std::fs::read(&state_file).map_err(e("demo state"))?).map_err(e("demo state"))?
    };

    // The agency modules, each with its own database.
    let c = &prepared.clients;
    step(&format!("Integrated Citizen Services on {}", url(CITIZEN_SERVICES)));
    let cs = citizen_services::App::build(&citizen_services::Settings {
        listen: ([127, 0, 0, 1], CITIZEN_SERVICES).into(),
        public_url: url(CITIZEN_SERVICES),
        database_url: sqlite(&data, "citizen-services"),
        issuer: url(IDP),
        client_id: c.citizen_services.0.clone(),
        client_secret: citizen_services::Secret::new(c.citizen_services.1.clone()),
        service_client_id: Some(c.citizen_services_service.0.clone()),
        service_client_secret: Some(citizen_services::Secret::new(c.citizen_services_service.1.clone())),
        epis_url: Some(url(EPIS)),
        epis_audience: None,
        catalogue: None,
    })
    .await
    .map_err(e("citizen services"))?;
    step(&format!("ePIS on {}", url(EPIS)));
    let (epis_router, epis_db) = epis::build(&epis::Config {
        public_url: url(EPIS),
        database_url: Some(sqlite(&data, "epis")),
        data_dir: data.clone(),
        issuer: url(IDP),
        client_id: c.epis.0.clone(),
        client_secret: Some(c.epis.1.clone()),
        ..epis::Config::default()
    })
    .await
    .map_err(e("ePIS"))?;
    step(&format!("EMIS on {}", url(EMIS)));
    let (emis_router, emis_db) = emis::build(&emis::Config {
        public_url: url(EMIS),
        database_url: Some(sqlite(&data, "emis")),
        data_dir: data.clone(),
        issuer: url(IDP),
        client_id: c.emis.0.clone(),
        client_secret: Some(c.emis.1.clone()),
        ..emis::Config::default()
    })
    .await
    .map_err(e("EMIS"))?;
    step(&format!("e-business on {}", url(EBIZ)));
    let ebiz = e_business::App::build(&e_business::Config {
        public_url: url(EBIZ),
        database_url: Some(sqlite(&data, "e-business")),
        data_dir: data.clone(),
        issuer: url(IDP),
        client_id: c.ebiz.0.clone(),
        client_secret: Some(c.ebiz.1.clone()),
        ..e_business::Config::default()
    })
    .await
    .map_err(e("e-business"))?;
    // e-business seals licences the IdP could not seal at once (EMIS's build starts its own).
    ebiz.spawn_retry_loop();
    if first {
        step("staff roles in the modules");
        grant_staff(&cs, &epis_db, &emis_db, &ebiz).await?;
    }

    let mut running = Vec::new();
    for (port, router) in
        [(CITIZEN_SERVICES, cs.router()), (EPIS, epis_router), (EMIS, emis_router), (EBIZ, ebiz.router())]
    {
        running.push(agency_kit::server::spawn(router, listen(port).await?).map_err(e("module"))?);
    }
    // Citizen services tells other agencies about approvals and seals certificates; what
    // failed is retried.
    let retry = cs.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        loop {
            every.tick().await;
            if let Err(err) = retry.retry_pending(agency_kit::now()).await {
                tracing::warn!(error = %err, "retrying notifications");
            }
        }
    });

    print_welcome(&prepared, first);
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("stopping");
    for r in running {
        r.stop().await;
    }
    idp_running.stop().await;
    Ok(())
}

fn sqlite(data: &Path, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", data.join(format!("{name}.db")).display())
}

/// The secrets file is the operator's, not the world's.
fn restrict(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

fn web_client(name: &str, app: &str, scope: &str) -> Res<ClientMetadata> {
    let uri = |u: String| RedirectUri::parse(&u).map_err(e("redirect URI"));
    Ok(ClientMetadata {
        client_name: name.into(),
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        redirect_uris: vec![uri(format!("{app}/auth/callback"))?],
        post_logout_redirect_uris: vec![uri(format!("{app}/"))?],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scope: Scope::parse(scope).map_err(e("scope"))?,
        jwks: None,
        jwks_uri: None,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        allow_national_id: true,
        id_token_signed_response_alg: SigningAlg::ES256,
        backchannel_logout_uri: None,
        default_acr: None,
        resources: vec![],
    })
}

async fn register(state: &idp::app::AppState, meta: ClientMetadata) -> Res<(String, String)> {
    let c = state.register_client(None, meta, "demo", idp::domain::now()).await.map_err(e("client"))?;
    Ok((c.client_id, c.client_secret.ok_or("a secret-based client has a secret")?))
}

/// Registry, CA, centre and officer, enrolments through the simulator, clients.
async fn prepare_idp(state: &idp::app::AppState) -> Res<Prepared> {
    let now = idp::domain::now();
    eprintln!("· first start: preparing the demo data");
    let people = idp::domain::registry::parse_csv(REGISTRY.as_bytes(), time::OffsetDateTime::now_utc().date(), 100);
    state
        .import_registry(people, "demo-registry.csv", "demo", now, &mut |_| {})
        .await
        .map_err(e("registry"))?
        .map_err(|rows| format!("registry rows refused: {rows:?}"))?;
    idp::pki::init(state, now).await.map_err(e("CA"))?;
    let centre = idp::enrolment::CentreCode::parse("THI-01").map_err(e("centre"))?;
    idp::enrolment::add_centre(state, &centre, "Thimphu Dzongkhag Administration", "Thimphu", now)
        .await
        .map_err(e("centre"))?;

    let mut activation = Vec::new();
    let (officer_cid, officer_name, _, _) = CAST[0];
    let officer_id = Cid::parse(officer_cid).map_err(e("CID"))?;
    // An officer must hold an active digital ID: the demo activates the first one with a
    // software passkey of its own (through the real /activate pages), enrols the others with
    // it, then resets that passkey so the person gets a fresh code of their own.
    let issued = state.issue_citizen(&officer_id, "demo", now).await.map_err(e("officer"))?;
    activate(officer_cid, &issued.activation_code).await?;
    let officer =
        idp::enrolment::add_officer(state, &officer_id, &centre, idp::enrolment::Role::Supervisor, "demo", now)
            .await
            .map_err(e("officer"))?;

    // The others are enrolled as at a centre: fingers captured at the scanner and a face photo
    // at the camera (the simulator, over SBI), verified and de-duplicated by the identity
    // provider.
    let http = reqwest::Client::new();
    let device = format!("http://127.0.0.1:{DEVICE}");
    for (cid, name, _, subject) in CAST.iter().skip(1) {
        let Some(subject) = subject else { continue };
        eprintln!("  enrolling {name} (fingers and face of simulated person {subject})");
        http.post(format!("{device}/simulator/present"))
            .json(&serde_json::json!({ "subject": subject }))
            .send()
            .await
            .map_err(e("simulator"))?;
        let cid = Cid::parse(cid).map_err(e("CID"))?;
        let mut outcome = None;
        // Like an officer, capture again when a finger's quality is too low.
        for _ in 0..5 {
            let start =
                idp::enrolment::start_capture(state, &officer, &cid, idp::enrolment::PacketKind::Enrolment, now)
                    .await
                    .map_err(e("capture"))?;
            let method = reqwest::Method::from_bytes(b"RCAPTURE").map_err(e("method"))?;
            let response = http
                .request(method, format!("{device}/capture"))
                .json(&start.request)
                .send()
                .await
                .map_err(e("scanner"))?
                .text()
                .await
                .map_err(e("scanner"))?;
            // Then the face photo, from the camera the same device service hosts.
            let photo = http
                .request(reqwest::Method::from_bytes(b"RCAPTURE").map_err(e("method"))?, format!("{device}/capture"))
                .json(&start.face)
                .send()
                .await
                .map_err(e("camera"))?
                .text()
                .await
                .map_err(e("camera"))?;
            let submission = idp::enrolment::Submission {
                packet_id: hex::encode(idp::domain::secrets::random_bytes::<16>().map_err(e("random"))?),
                transaction_id: start.request.transaction_id.clone(),
                response: serde_json::value::RawValue::from_string(response).map_err(e("scanner response"))?,
                face: Some(idp::enrolment::FaceSubmission {
                    transaction_id: start.face.transaction_id.clone(),
                    response: serde_json::value::RawValue::from_string(photo).map_err(e("camera response"))?,
                }),
            };
            match idp::enrolment::submit(state, &officer, &submission, idp::domain::now()).await {
                Ok(o) => {
                    outcome = Some(o);
                    break;
                }
                Err(err) if err.to_string().contains("recapture") => continue,
                Err(err) => return Err(format!("enrolling {name}: {err}")),
            }
        }
        match outcome {
            Some(idp::enrolment::Outcome::Issued { activation_code: Some(code), .. }) => {
                activation.push(((*name).to_owned(), code));
            }
            other => return Err(format!("enrolling {name}: {other:?}")),
        }
    }

    let reset = state.reset_passkeys(&officer_id, "demo", idp::domain::now()).await.map_err(e("officer"))?;
    activation.insert(0, (officer_name.to_owned(), reset.activation_code));

    // The web client also asks citizens to sign applications (client credentials, `sign`; the
    // signing request returns to `/signed`, one of its redirect URIs).
    let mut cs_web =
        web_client("Integrated Citizen Services", &url(CITIZEN_SERVICES), "openid profile national_id sign")?;
    cs_web.grant_types.push(GrantType::ClientCredentials);
    cs_web
        .redirect_uris
        .push(RedirectUri::parse(&format!("{}/signed", url(CITIZEN_SERVICES))).map_err(e("redirect URI"))?);
    let mut cs_service = web_client(
        "Department of Civil Registration and Census",
        &url(CITIZEN_SERVICES),
        "registry.births registry.deaths epis.patients seal",
    )?;
    cs_service.redirect_uris.clear();
    cs_service.post_logout_redirect_uris.clear();
    cs_service.allow_national_id = false;
    cs_service.grant_types = vec![GrantType::ClientCredentials];
    cs_service.resources = vec![format!("{}/api", url(EPIS))];
    let epis_web = web_client("ePIS, Ministry of Health", &url(EPIS), "openid profile national_id")?;
    let mut emis_web = web_client("EMIS, Ministry of Education", &url(EMIS), "openid profile national_id seal")?;
    emis_web.grant_types.push(GrantType::ClientCredentials);
    let mut ebiz_web =
        web_client("Department of Trade, e-business", &url(EBIZ), "openid profile national_id sign seal")?;
    ebiz_web.grant_types.push(GrantType::ClientCredentials);
    ebiz_web.redirect_uris.push(RedirectUri::parse(&format!("{}/signed", url(EBIZ))).map_err(e("redirect URI"))?);
    Ok(Prepared {
        clients: Clients {
            citizen_services: register(state, cs_web).await?,
            citizen_services_service: register(state, cs_service).await?,
            epis: register(state, epis_web).await?,
            emis: register(state, emis_web).await?,
            ebiz: register(state, ebiz_web).await?,
        },
        activation,
    })
}

/// Activates a digital ID as a citizen's browser would, with a software passkey.
async fn activate(cid: &str, code: &str) -> Res<()> {
    use authenticator::Authenticator;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(e("HTTP client"))?;
    let base = url(IDP);
    let page = http.get(format!("{base}/activate")).send().await.map_err(e("activate"))?.text().await;
    let page = page.map_err(e("activate"))?;
    let at = page.find("name=\"csrf\" content=\"").ok_or("no CSRF token on /activate")? + 21;
    let csrf = page.get(at..at + 64).ok_or("no CSRF token on /activate")?.to_owned();
    let start: serde_json::Value = http
        .post(format!("{base}/activate/start"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"cid": cid, "code": code}))
        .send()
        .await
        .map_err(e("activate"))?
        .json()
        .await
        .map_err(e("activate"))?;
    let credential = authenticator::RingPasskey::new().create(&base, &start["options"]);
    let done = http
        .post(format!("{base}/activate/finish"))
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"ceremony": start["ceremony"], "name": "demo set-up", "credential": credential}))
        .send()
        .await
        .map_err(e("activate"))?;
    if !done.status().is_success() {
        return Err(format!("activating {cid}: {}", done.text().await.unwrap_or_default()));
    }
    Ok(())
}

async fn grant_staff(
    cs: &citizen_services::App,
    epis_db: &agency_kit::db::Db,
    emis_db: &agency_kit::db::Db,
    ebiz: &e_business::App,
) -> Res<()> {
    let now = agency_kit::now();
    let (karma, pema, sonam, dechen, tashi) = (CAST[0], CAST[1], CAST[2], CAST[3], CAST[4]);
    let registrar = agency_kit::staff::StaffRole {
        cid: karma.0.into(),
        role: "registrar".into(),
        unit: "DCRC".into(),
        name: karma.1.into(),
    };
    agency_kit::staff::grant(cs.db(), &registrar, "demo", now).await.map_err(e("citizen services staff"))?;
    epis::domain::add_staff(epis_db, sonam.0, Some("JDWNRH"), sonam.1, "demo", now).await.map_err(e("ePIS staff"))?;
    emis::domain::add_staff(emis_db, dechen.0, emis::domain::PRINCIPAL, Some("THI-LMSS"), dechen.1, "demo", now)
        .await
        .map_err(e("EMIS staff"))?;
    let catalogue = e_business::Catalogue::built_in().map_err(e("e-business catalogue"))?;
    e_business::add_staff(ebiz.db(), &catalogue, tashi.0, "licensing_officer", "Paro", tashi.1, "demo", now)
        .await
        .map_err(e("e-business staff"))?;
    let _ = pema;
    Ok(())
}

fn print_welcome(p: &Prepared, first: bool) {
    println!();
    println!("Drukyul ID is running (Ctrl-C stops it):");
    println!("  identity provider      {}/account       (enrolment console: {}/enrol)", url(IDP), url(IDP));
    println!("  citizen services       {}/", url(CITIZEN_SERVICES));
    println!("  ePIS                   {}/", url(EPIS));
    println!("  EMIS                   {}/", url(EMIS));
    println!("  e-business             {}/", url(EBIZ));
    println!("  scanner simulator      http://127.0.0.1:{DEVICE}/simulator/roster");
    println!();
    println!("Who is who:");
    for (cid, name, role, subject) in CAST {
        let how = if subject.is_some() { "enrolled with fingerprints and photo" } else { "issued by the operator" };
        println!("  {name:<16} CID {cid}  {role} ({how})");
    }
    println!();
    if first {
        println!("One-time activation codes: open {}/activate, enter the CID and the code,", url(IDP));
        println!("and create a passkey (use a separate browser profile per person):");
        for (name, code) in &p.activation {
            let cid = CAST.iter().find(|c| c.1 == name).map_or("", |c| c.0);
            println!("  {name:<16} CID {cid}  code {code}");
        }
    } else {
        println!("The activation codes were printed at the first start; `--reset` prepares everything again.");
    }
    println!();
    println!("To try: Pema registers a birth at citizen services; Karma approves it under Office; the child");
    println!("appears in the registry and in ePIS, and the sealed birth certificate verifies in any PDF reader");
    println!("that trusts {}/ca/root.crt.", url(IDP));
}
