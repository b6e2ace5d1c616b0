//! Every built detector. The registry lists them under their names.

pub(crate) mod ast_util;
pub mod build;
pub mod complexity;
pub mod eslint;
pub mod go;
pub mod imports;
pub mod isolation;
pub mod java;
pub mod network;
pub mod package;
pub mod performance;
pub mod python;
pub mod runtime;
pub mod rust;
pub mod sarif;
pub mod security;
pub mod tools;
pub(crate) mod tree_sitter_util;
pub mod typescript;

use crate::detector::Detector;
use std::sync::Arc;

/// One instance of every built detector, in the original product's order, then the outside
/// tools (configured from the environment; run only when named).
pub fn all() -> Vec<Arc<dyn Detector>> {
    vec![
        Arc::new(typescript::TypeScriptDetector),
        Arc::new(eslint::EslintDetector),
        Arc::new(imports::ImportDetector),
        Arc::new(package::PackageDetector),
        Arc::new(runtime::RuntimeDetector),
        Arc::new(build::BuildDetector),
        Arc::new(security::SecurityDetector),
        Arc::new(imports::CircularDetector),
        Arc::new(network::NetworkDetector),
        Arc::new(performance::PerformanceDetector),
        Arc::new(complexity::ComplexityDetector),
        Arc::new(isolation::IsolationDetector),
        Arc::new(python::PythonDetector),
        Arc::new(java::JavaDetector),
        Arc::new(go::GoDetector),
        Arc::new(rust::RustDetector),
        Arc::new(sarif::SarifDetector),
        Arc::new(tools::ToolDetector::from_env(tools::Tool::Oxlint)),
        Arc::new(tools::ToolDetector::from_env(tools::Tool::EslintCli)),
        Arc::new(tools::ToolDetector::from_env(tools::Tool::Tsc)),
        Arc::new(tools::ToolDetector::from_env(tools::Tool::Semgrep)),
    ]
}
