//! A commented header template, as written by `shard-tools headers init`.

use std::fmt::Write as _;
use std::path::PathBuf;

/// What goes into a generated header.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOptions {
    /// Dataset id.
    pub dataset: String,
    /// Input folder, relative to the header's folder.
    pub inputs: PathBuf,
    /// Target folder, relative to the header's folder.
    pub targets: Option<PathBuf>,
    /// Label values found in the targets, when there are few of them.
    pub labels: Option<Vec<i64>>,
    /// File-name pattern for both folders.
    pub pattern: String,
    /// Window side.
    pub window: u32,
    /// Windows per shard.
    pub shard_size: usize,
    /// Split seed.
    pub seed: u64,
}

/// Renders a header with every section spelled out and commented.
pub fn render_template(o: &TemplateOptions) -> String {
    let mut s = String::new();
    let path = |p: &PathBuf| yaml_str(&p.to_string_lossy().replace('\\', "/"));
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "# Dataset header for shard-tools. Relative paths are relative to this file."
    );
    let _ = writeln!(s, "dataset: {}", yaml_str(&o.dataset));
    let _ = writeln!(s, "version: \"1\"");
    let _ = writeln!(s, "description: \"\"");
    let _ = writeln!(s, "modalities:");
    let _ = writeln!(s, "  input:");
    let _ = writeln!(s, "    dir: {}", path(&o.inputs));
    let _ = writeln!(s, "    pattern: {}", yaml_str(&o.pattern));
    let _ = writeln!(
        s,
        "    # bands: [1, 2, 3]       # 1-based; every band but alpha when absent"
    );
    if let Some(t) = &o.targets {
        let _ = writeln!(s, "  target:");
        let _ = writeln!(s, "    dir: {}", path(t));
        let _ = writeln!(s, "    pattern: {}", yaml_str(&o.pattern));
        match &o.labels {
            Some(l) => {
                let list: Vec<String> = l.iter().map(i64::to_string).collect();
                let _ = writeln!(s, "    labels: [{}]", list.join(", "));
            }
            None => {
                let _ = writeln!(
                    s,
                    "    # labels: [0, 1]        # label values targets may hold"
                );
            }
        }
    }
    let _ = writeln!(s, "pairing:");
    let _ = writeln!(
        s,
        "  by: stem                  # or: manifest (CSV with id,input,target)"
    );
    let _ = writeln!(s, "splits:");
    let _ = writeln!(s, "  seed: {}", o.seed);
    let _ = writeln!(s, "  unit: item                # or: window");
    let _ = writeln!(s, "  ratios: {{ train: 0.8, val: 0.1, test: 0.1 }}");
    if o.targets.is_some() {
        let _ = writeln!(
            s,
            "  holdout:                  # labelled units kept for metrics only"
        );
        let _ = writeln!(s, "    fraction: 0.1");
        let _ = writeln!(s, "    seed: 0");
    }
    let _ = writeln!(s, "sharding:");
    let _ = writeln!(s, "  window: {}", o.window);
    let _ = writeln!(s, "  stride: {}", o.window);
    let _ = writeln!(s, "  shard_size: {}", o.shard_size);
    let _ = writeln!(s, "  edge: shift                # or: drop");
    let _ = writeln!(s, "  max_nodata_fraction: 1.0");
    let _ = writeln!(s, "validation:");
    let _ = writeln!(s, "  ignore_labels: []");
    s
}

/// A YAML double-quoted scalar.
fn yaml_str(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("\"{v}\""))
}
