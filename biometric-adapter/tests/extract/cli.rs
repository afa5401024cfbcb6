//! `biometric-adapter template extract`, run as an operator would, then `template compare` on its
//! output.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use biometric_adapter::template::{self, FingerPosition};

use crate::support::{MATCHING, NONMATCHING, PROBE, SBI_CAPTURE, fixture};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biometric-adapter")).args(args).output().unwrap()
}

fn path(name: &str) -> Option<String> {
    fixture(name)?;
    Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name).to_str().unwrap().to_owned())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("biometric-adapter-extract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn extract_writes_records_that_compare_decides_on() {
    let (Some(probe), Some(matching), Some(nonmatching)) = (path(PROBE), path(MATCHING), path(NONMATCHING)) else {
        return;
    };
    let mut outputs = Vec::new();
    for (input, name) in [(&probe, "probe.iso"), (&matching, "matching.iso"), (&nonmatching, "nonmatching.iso")] {
        let out_path = scratch(name);
        let out = run(&["template", "extract", input, "-o", out_path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("minutiae from a 388x374 image at 500 ppi"));
        let record = template::parse(&std::fs::read(&out_path).unwrap()).unwrap();
        assert!(record.views()[0].minutiae().len() > 30);
        outputs.push(out_path.to_str().unwrap().to_owned());
    }
    let genuine = run(&["template", "compare", &outputs[0], &outputs[1]]);
    assert_eq!(genuine.status.code(), Some(0), "{}", String::from_utf8_lossy(&genuine.stdout));
    let impostor = run(&["template", "compare", &outputs[0], &outputs[2]]);
    assert_eq!(impostor.status.code(), Some(1), "{}", String::from_utf8_lossy(&impostor.stdout));
}

#[test]
fn extract_reads_an_sbi_capture_and_writes_to_stdout() {
    let Some(capture) = path(SBI_CAPTURE) else { return };
    let out = run(&["template", "extract", &capture, "--bio-extract"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record = template::parse(&out.stdout).unwrap();
    assert_eq!(record.views()[0].finger_position(), FingerPosition::LeftIndex);
    assert_eq!((record.width(), record.height()), (259, 420));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Iso19794_4_2011"));
    let out = run(&["template", "extract", &capture]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Jpeg"));
}

#[test]
fn extract_refuses_bad_input_with_a_message_and_status_1() {
    let bad = scratch("bad.fir");
    std::fs::write(&bad, b"FIR\x00020\x00\0\0\0\x20").unwrap();
    let out = run(&["template", "extract", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a valid finger image record: byte 8"), "{stderr}");
    assert!(out.stdout.is_empty());
}
