//! A few training steps on a small real scene, then export, reload and segment: the whole
//! path from pixels to a model the engine runs. Resuming from a checkpoint gives the same
//! weights as an uninterrupted run.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::{Path, PathBuf};
use std::process::Command;

use engine::cnn::{Artifact, CnnParams, CnnRuntime};
use engine::geotiff::GeoTiffReader;
use engine::manifest::InputIdentity;
use engine::pipeline::{self, MethodParams, Runtime, SegmentParams};
use engine::progress::NoProgress;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Olinda, Landsat-7 ETM+, 349 × 352 px, 6 bands (a real scene that ships with the tests).
fn scene() -> PathBuf {
    repo().join("tests/fixtures/real/L7_ETMs.tif")
}

fn trainer(args: &[&str], dir: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_native-trainer"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "native-trainer {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn train_args<'a>(scene: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        scene,
        "--out",
        out,
        "--steps",
        "4",
        "--batch",
        "2",
        "--crop",
        "64",
        "--warmup",
        "1",
        "--log-every",
        "1",
        "--checkpoint-every",
        "2",
        "--quiet",
    ]
}

#[test]
fn train_export_reload_and_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scene = scene();
    let scene = scene.to_str().unwrap();
    trainer(&train_args(scene, "run"), dir);

    // Every step is logged with the unsupervised diagnostics.
    let log = std::fs::read_to_string(dir.join("run/train.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert!(line["loss"].as_f64().unwrap().is_finite());
        assert!(line["vicreg"]["variance"].as_f64().unwrap() >= 0.0);
        assert!(line["equivariance_error"].as_f64().unwrap() >= 0.0);
        assert!(line["clusters_by_scene"]["L7_ETMs.tif"].is_array());
    }

    // Export, then reload as the engine does.
    trainer(
        &["export", "run", "--id", "smoke", "--models", "models"],
        dir,
    );
    let model = dir.join("models/smoke");
    let artifact = Artifact::from_bytes(
        &std::fs::read(model.join("meta.json")).unwrap(),
        &std::fs::read(model.join("weights.bpk")).unwrap(),
    )
    .unwrap();
    assert_eq!(artifact.meta.id, "smoke");
    assert_eq!(artifact.meta.training["run"]["steps"], 4);

    // Segment the scene with it.
    let file = std::fs::File::open(repo().join("tests/fixtures/real/L7_ETMs.tif")).unwrap();
    let mut reader = GeoTiffReader::open(std::io::BufReader::new(file)).unwrap();
    let params = SegmentParams {
        method: MethodParams::Cnn(CnnParams {
            k: 4,
            model: "smoke".into(),
            ..CnnParams::default()
        }),
        ..SegmentParams::default()
    };
    let runtime = Runtime {
        cnn: Some(CnnRuntime::cpu(artifact)),
        ..Runtime::default()
    };
    let identity = InputIdentity {
        name: "L7_ETMs.tif".into(),
        bytes: 0,
        blake3: String::new(),
    };
    let out = pollster::block_on(pipeline::segment(
        &mut reader,
        std::io::Cursor::new(Vec::new()),
        &params,
        &runtime,
        identity,
        &NoProgress,
    ))
    .unwrap();
    let total: u64 = out.stats.rows(&out.legend).iter().map(|r| r.pixels).sum();
    assert_eq!(total, 349 * 352);
}

#[test]
fn the_iic_objective_logs_its_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let scene = scene();
    let mut args = train_args(scene.to_str().unwrap(), "iic");
    args.extend(["--objective", "iic"]);
    trainer(&args, tmp.path());
    let log = std::fs::read_to_string(tmp.path().join("iic/train.jsonl")).unwrap();
    for l in log.lines() {
        let line: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(line["head_entropy"].as_array().unwrap().len(), 2);
        let live = line["head_live_clusters"][0].as_u64().unwrap();
        assert!((1..=32).contains(&live), "{live}");
    }
}

#[test]
fn a_resumed_run_ends_with_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let scene = scene();
    let scene = scene.to_str().unwrap();
    trainer(&train_args(scene, "straight"), dir);
    let mut first = train_args(scene, "resumed");
    first.extend(["--stop-after", "2"]);
    trainer(&first, dir);
    assert!(
        !dir.join("resumed/model.bpk").exists(),
        "stopped before the end"
    );
    let mut again = train_args(scene, "resumed");
    again.push("--resume");
    trainer(&again, dir);
    // Every step's loss, before and after the interruption, is the same...
    let losses = |run: &str| -> Vec<f64> {
        std::fs::read_to_string(dir.join(run).join("train.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(losses("straight"), losses("resumed"));
    assert_eq!(losses("resumed").len(), 4);
    // ... and so are the final networks (the files differ only in their parameter ids).
    assert_eq!(
        embedding(&dir.join("straight/model.bpk")),
        embedding(&dir.join("resumed/model.bpk"))
    );
}

/// The embedding of a fixed input by the network saved at `path`.
fn embedding(path: &Path) -> Vec<f32> {
    use burn::module::Module;
    use burn::tensor::{Device, Tensor, TensorData};
    let device = Device::flex();
    let record = burn::store::ModuleRecord::load(path).unwrap();
    let net = engine::cnn::CnnConfig::new()
        .init(&device)
        .load_record(record);
    let x: Vec<f32> = (0..6 * 16 * 16)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(x, [1, 6, 16, 16]), &device);
    let mask = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 6], [1, 6]), &device);
    net.embed(x, mask)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}
