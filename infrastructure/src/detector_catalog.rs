use application::DetectorCatalog;

/// Detector names existing clients send (the original service's list plus language detectors).
/// Kept here until the detector engine's registry is wired in, which then answers instead.
pub const KNOWN_DETECTORS: &[&str] = &[
    "typescript",
    "eslint",
    "import",
    "package",
    "runtime",
    "build",
    "security",
    "circular",
    "network",
    "performance",
    "complexity",
    "isolation",
    "python",
    "java",
    "go",
    "rust",
    "sarif",
];

/// Used when a request names no detectors: the ones that read source directly.
pub const DEFAULT_DETECTORS: &[&str] = &[
    "typescript",
    "eslint",
    "import",
    "package",
    "security",
    "circular",
    "performance",
    "complexity",
    "python",
    "java",
    "go",
    "rust",
];

#[derive(Debug, Clone, Default)]
pub struct StaticDetectorCatalog;

impl DetectorCatalog for StaticDetectorCatalog {
    fn valid_names(&self) -> Vec<String> {
        KNOWN_DETECTORS
            .iter()
            .map(|name| name.to_string())
            .collect()
    }

    fn default_selection(&self) -> Vec<String> {
        DEFAULT_DETECTORS
            .iter()
            .map(|name| name.to_string())
            .collect()
    }
}
