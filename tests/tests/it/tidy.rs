//! Architecture rules that a reviewer would otherwise have to remember: the model stays pure,
//! and every source file says why it exists.

use std::fs;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') && name != "node_modules" {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_model_never_imports_http_runtime_json_clock_or_rng() {
    let mut files = Vec::new();
    rust_files(&workspace().join("mock-server/src/model"), &mut files);
    files.push(workspace().join("mock-server/src/invariants.rs"));
    assert!(files.len() >= 10, "model files not found: {files:?}");
    let forbidden = [
        "axum",
        "tokio",
        "tower",
        "serde_json",
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "rand::",
        "thread_rng",
        "std::env",
    ];
    let mut offences = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {word}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the pure model reaches outside itself:\n{}", offences.join("\n"));
}

#[test]
fn every_rust_file_starts_with_a_module_doc_line() {
    let mut files = Vec::new();
    for dir in ["mock-server", "migrator", "scenarios", "tests"] {
        rust_files(&workspace().join(dir), &mut files);
    }
    assert!(files.len() >= 20, "too few files found: {}", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap_or_default().starts_with("//!"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a leading //! line:\n{}", missing.join("\n"));
}
