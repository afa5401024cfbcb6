//! The `biometric-adapter` binary, run as a user would.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{ANSI_SAMPLE, ISO_SAMPLE, SOURCEAFIS, fixture};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biometric-adapter")).args(args).output().unwrap()
}

fn fixture_path(name: &str) -> Option<String> {
    fixture(name)?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iso19794-2").join(name);
    Some(path.to_str().unwrap().to_owned())
}

#[test]
fn template_show_prints_the_record_as_json() {
    let Some(path) = fixture_path(ISO_SAMPLE) else { return };
    let out = run(&["template", "show", &path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["format"], "ISO/IEC 19794-2:2005");
    assert_eq!(json["capture_equipment"]["device_type_id"], 181);
    assert_eq!(json["width"], 512);
    assert_eq!(json["resolution_x"], 197);
    assert_eq!(json["views"].as_array().unwrap().len(), 2);
    let view = &json["views"][0];
    assert_eq!(view["finger_position"], "left_index");
    assert_eq!(view["impression_type"], "live_plain");
    assert_eq!(view["quality"], 90);
    assert_eq!(view["minutiae"].as_array().unwrap().len(), 27);
    let m = &view["minutiae"][0];
    assert_eq!((&m["kind"], &m["x"], &m["y"], &m["quality"]), (&"ending".into(), &100.into(), &14.into(), &90.into()));
    assert_eq!(m["angle"], serde_json::json!({"raw": 80, "degrees": 112.5}));
    assert_eq!(
        json["views"][1]["extended_data"],
        serde_json::json!([{"block": "other", "type_code": 0x0221, "data": "0144bc362143"}])
    );
    assert_eq!(json["views"][1]["block_lengths"], "exclude_header");
}

#[test]
fn template_show_accepts_zero_padding() {
    let Some(path) = fixture_path(SOURCEAFIS[0]) else { return };
    let out = run(&["template", "show", &path]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["views"][0]["minutiae"].as_array().unwrap().len(), 38);
    assert_eq!(json["views"][0]["block_lengths"], "include_header");
}

#[test]
fn template_show_names_the_byte_of_a_malformed_record() {
    let Some(path) = fixture_path(ANSI_SAMPLE) else { return };
    let out = run(&["template", "show", &path]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a valid finger minutiae record: byte 4: version is \"020\\0\""), "{stderr}");

    let out = run(&["template", "show", "/nonexistent/template.dat"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/template.dat"));
}

#[test]
fn there_is_no_compare_until_there_is_a_matcher() {
    let out = run(&["template", "compare", "a.dat", "b.dat"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'compare'"));
}
