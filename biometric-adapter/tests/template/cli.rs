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
fn template_compare_matches_the_same_finger_and_not_another() {
    let (Some(probe), Some(matching), Some(nonmatching)) =
        (fixture_path(SOURCEAFIS[0]), fixture_path(SOURCEAFIS[1]), fixture_path(SOURCEAFIS[2]))
    else {
        return;
    };
    let out = run(&["template", "compare", &probe, &matching]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unknown: score "), "{text}");
    assert!(text.lines().last().unwrap().starts_with("match at FMR 1e-4"), "{text}");

    let out = run(&["template", "compare", &probe, &nonmatching]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).lines().last().unwrap().starts_with("no match at FMR 1e-4"));
}

#[test]
fn template_compare_json_carries_the_score_and_the_decision() {
    let (Some(probe), Some(matching), Some(nonmatching)) =
        (fixture_path(SOURCEAFIS[0]), fixture_path(SOURCEAFIS[1]), fixture_path(SOURCEAFIS[2]))
    else {
        return;
    };
    let out = run(&["template", "compare", "--json", "--fmr", "1e-6", &probe, &matching]);
    assert_eq!(out.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decision"], "match");
    assert_eq!(json["target_fmr"], 1e-6);
    let score = json["fingers"][0]["score"].as_f64().unwrap();
    assert!(score > json["threshold"].as_f64().unwrap());
    assert_eq!(json["fingers"][0]["finger"], "unknown");
    assert!(json["false_match_rate"].as_f64().unwrap() < 1e-6);

    let out = run(&["template", "compare", "--json", &probe, &nonmatching]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decision"], "no match");
    assert!(json["fingers"][0]["score"].as_f64().unwrap() < json["threshold"].as_f64().unwrap());
}

#[test]
fn template_compare_refuses_bad_input_with_status_2() {
    let (Some(probe), Some(ansi)) = (fixture_path(SOURCEAFIS[0]), fixture_path(ANSI_SAMPLE)) else { return };
    let out = run(&["template", "compare", &probe, "/nonexistent/b.dat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/b.dat"));
    let out = run(&["template", "compare", &probe, &ansi]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid finger minutiae record: byte 4"));
    let out = run(&["template", "compare", "--fmr", "2", &probe, &probe]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("false match rate"));
    assert!(out.stdout.is_empty());
}
