//! `sbi-simulator`: a MOSIP SBI 0.9.5 finger-slap device service over the synthetic population,
//! on 127.0.0.1, signing with its own device key under a simulated device-provider CA.
//! See `biometric_adapter::sbi::simulator` for what it serves and how to choose who presents.
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use biometric_adapter::{
    population::NoiseParams,
    sbi::{
        jws::JwsAlg,
        messages::{Env, Purpose},
        simulator::{DeviceCredentials, DeviceProvider, Simulator, SimulatorConfig},
    },
};
use clap::{Parser, ValueEnum};

/// A simulated fingerprint scanner speaking MOSIP SBI 0.9.5 (MOSIPDISC /device, MOSIPDINFO /info,
/// RCAPTURE and CAPTURE /capture) on 127.0.0.1.
///
/// Every capture is a fresh, noisy impression of the presenting subject's finger from a seeded
/// synthetic population, as an ISO/IEC 19794-2 minutiae record, signed (JWS with x5c) by the
/// device key, whose certificate is issued by a simulated device-provider CA. Configure that CA
/// as trusted (--export-ca, or GET /simulator/ca.pem).
///
/// Choosing who presents: POST /simulator/present {"subject": N}, or per request the capture's
/// customOpts {"drukyul.subject": "N"}. Subjects 0..SUBJECTS are distinct people; the planted
/// duplicates follow them (GET /simulator/roster says whom each duplicates).
#[derive(Parser, Debug)]
#[command(name = "sbi-simulator", version, about, long_about)]
struct Cli {
    /// Port on 127.0.0.1 (SBI devices use 4501-4600).
    #[arg(long, default_value_t = 4501)]
    port: u16,
    /// Population seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Distinct people who can present.
    #[arg(long, default_value_t = 1000)]
    subjects: u64,
    /// Planted duplicates: extra subjects who are earlier subjects presenting again.
    #[arg(long, default_value_t = 0)]
    duplicates: u64,
    /// Capture noise: the issue's reference difficulty, or none at all.
    #[arg(long, value_enum, default_value_t = Noise::Default)]
    noise: Noise,
    /// The environment the device is registered in.
    #[arg(long, value_enum, default_value_t = EnvArg::Developer)]
    env: EnvArg,
    /// Registration (answers RCAPTURE) or Auth (answers CAPTURE).
    #[arg(long, value_enum, default_value_t = PurposeArg::Registration)]
    purpose: PurposeArg,
    /// Device key algorithm (the specification says RS256).
    #[arg(long, value_enum, default_value_t = AlgArg::Rs256)]
    alg: AlgArg,
    /// Keep the CA and device keys here (created on first start, loaded after). Without it, new
    /// keys are made at every start.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Write the device-provider CA certificate (PEM) here at start.
    #[arg(long)]
    export_ca: Option<PathBuf>,
    /// The subject presenting at start.
    #[arg(long, default_value_t = 0)]
    subject: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Noise {
    Default,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum EnvArg {
    Staging,
    Developer,
    PreProduction,
    Production,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PurposeArg {
    Registration,
    Auth,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum AlgArg {
    Rs256,
    Es256,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn credentials(cli: &Cli, serial: &str) -> Result<(DeviceCredentials, String), String> {
    let alg = match cli.alg {
        AlgArg::Rs256 => JwsAlg::RS256,
        AlgArg::Es256 => JwsAlg::ES256,
    };
    let now = time::OffsetDateTime::now_utc();
    let make = || -> Result<(DeviceCredentials, String), String> {
        let provider =
            DeviceProvider::generate("Drukyul ID simulated device provider CA", now).map_err(|e| e.to_string())?;
        let device = provider
            .issue_device(serial, alg, now - time::Duration::days(1), now + time::Duration::days(365))
            .map_err(|e| e.to_string())?;
        Ok((device, provider.ca_pem().to_owned()))
    };
    let Some(dir) = &cli.state_dir else { return make() };
    let files = ["ca.pem", "device.pem", "device.key.pem", "device.alg"].map(|f| dir.join(f));
    if files.iter().all(|f| f.exists()) {
        let read = |i: usize| std::fs::read_to_string(&files[i]).map_err(|e| format!("{}: {e}", files[i].display()));
        let alg = match read(3)?.trim() {
            "RS256" => JwsAlg::RS256,
            "ES256" => JwsAlg::ES256,
            other => return Err(format!("{}: unknown algorithm {other}", files[3].display())),
        };
        let cert_pem = read(1)?;
        let cert_der = pem_der(&cert_pem).ok_or_else(|| format!("{}: not a PEM certificate", files[1].display()))?;
        return Ok((DeviceCredentials { alg, key_pem: read(2)?, cert_pem, cert_der }, read(0)?));
    }
    let (device, ca) = make()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let alg_name = format!("{:?}", device.alg);
    for (path, text, secret) in [
        (&files[0], ca.as_str(), false),
        (&files[1], device.cert_pem.as_str(), false),
        (&files[2], device.key_pem.as_str(), true),
        (&files[3], alg_name.as_str(), false),
    ] {
        write_file(path, text, secret).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok((device, ca))
}

fn write_file(path: &std::path::Path, text: &str, secret: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let _ = secret;
    options.open(path)?.write_all(text.as_bytes())
}

fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn run(cli: Cli) -> Result<(), String> {
    let serial = format!("SIM-{:010}", cli.seed % 10_000_000_000);
    let (device, ca_pem) = credentials(&cli, &serial)?;
    if let Some(path) = &cli.export_ca {
        write_file(path, &ca_pem, false).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let config = SimulatorConfig {
        seed: cli.seed,
        subjects: cli.subjects,
        duplicates: cli.duplicates,
        noise: match cli.noise {
            Noise::Default => NoiseParams::default(),
            Noise::None => NoiseParams::none(),
        },
        env: match cli.env {
            EnvArg::Staging => Env::Staging,
            EnvArg::Developer => Env::Developer,
            EnvArg::PreProduction => Env::PreProduction,
            EnvArg::Production => Env::Production,
        },
        purpose: match cli.purpose {
            PurposeArg::Registration => Purpose::Registration,
            PurposeArg::Auth => Purpose::Auth,
        },
        port: cli.port,
        serial,
    };
    let simulator = Simulator::new(config, &device, ca_pem).map_err(|e| e.to_string())?;
    simulator.present(cli.subject).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
            .await
            .map_err(|e| format!("127.0.0.1:{}: {e}", cli.port))?;
        eprintln!(
            "sbi-simulator: listening on http://127.0.0.1:{} (device {}, {} subjects, {} planted duplicates)",
            cli.port,
            simulator.config().serial,
            cli.subjects,
            cli.duplicates
        );
        let serve = biometric_adapter::sbi::simulator::serve(listener, Arc::new(simulator));
        tokio::select! {
            r = serve => r.map_err(|e| e.to_string()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
