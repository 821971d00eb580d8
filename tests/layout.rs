//! The shape of src/: its top-level modules depend on each other in one direction only, in the
//! order of the data flow (docs/architecture.md). A `use crate::x` that points upstream fails
//! here with the file that wrote it, before it becomes a cycle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up: each may use only the modules before it.
const LAYERS: &[&str] = &[
    "invalid",
    "decode",
    "text",
    "features",
    "model",
    "score",
    "aggregate",
    "serve",
    "ingest",
    "config",
    "pipeline",
    "tools",
    "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::name` references in code (comments and doc comments left out), by top-level module.
fn references(src: &Path) -> BTreeMap<String, Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut refs: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src/");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    refs.entry(module.clone())
                        .or_default()
                        .push((name, rel.to_owned()));
                }
            }
        }
    }
    refs
}

#[test]
fn modules_depend_downstream_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let refs = references(&src);
    let layer = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (module, uses) in &refs {
        let Some(own) = layer(module) else {
            wrong.push(format!(
                "src/{module} is not in LAYERS: place it in the data flow"
            ));
            continue;
        };
        for (used, file) in uses {
            match layer(used) {
                Some(l) if l < own => {}
                _ => wrong.push(format!(
                    "src/{} uses crate::{used}, which is not below {module}",
                    file.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_top_level_module_is_placed() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("read src/lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    let mut sorted_layers: Vec<&str> = LAYERS.to_vec();
    sorted_layers.sort_unstable();
    let mut sorted_declared = declared.clone();
    sorted_declared.sort_unstable();
    assert_eq!(
        sorted_declared, sorted_layers,
        "src/lib.rs modules vs LAYERS"
    );
}
