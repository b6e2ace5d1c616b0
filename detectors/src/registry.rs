//! Which detectors exist, by the names clients select them with.

use crate::detector::Detector;
use crate::detectors;
use std::sync::Arc;

/// A valid detector name whose detector is not built yet: selecting it is accepted (so existing
/// clients' lists stay valid) but yields no findings, and the run's report says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingDetector {
    pub name: &'static str,
    /// What it will check, and why it reports nothing today.
    pub reason: &'static str,
}

/// Names of the original product that keep their meaning but have no implementation yet.
pub const PENDING_DETECTORS: &[PendingDetector] = &[
    PendingDetector {
        name: "runtime",
        reason: "not built yet: code that fails at run time (calls of undefined globals, ...)",
    },
    PendingDetector {
        name: "build",
        reason: "not built yet: build configuration problems (tsconfig, bundler configs)",
    },
    PendingDetector {
        name: "network",
        reason: "not built yet: insecure or hard-coded network endpoints",
    },
    PendingDetector {
        name: "isolation",
        reason: "not built yet: module-boundary violations between packages of a workspace",
    },
];

/// Every valid detector name, in the order the original product listed them.
pub const DETECTOR_NAMES: &[&str] = &[
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

/// A requested detector name that does not exist; carries the valid ones for the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown detectors: {}; valid detectors: {}", unknown.join(", "), valid.join(", "))]
pub struct UnknownDetectors {
    pub unknown: Vec<String>,
    pub valid: Vec<String>,
}

/// The set of detectors an engine can run.
#[derive(Clone)]
pub struct Registry {
    detectors: Vec<Arc<dyn Detector>>,
}

impl Default for Registry {
    /// Every detector that is built, under its registry name.
    fn default() -> Self {
        Registry {
            detectors: detectors::all(),
        }
    }
}

impl Registry {
    /// A registry of exactly these detectors (tests, or a custom engine).
    pub fn with_detectors(detectors: Vec<Arc<dyn Detector>>) -> Registry {
        Registry { detectors }
    }

    /// Every valid name: the built detectors and the [`PENDING_DETECTORS`], in the original
    /// product's order, then any extra detector this registry holds.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = DETECTOR_NAMES
            .iter()
            .copied()
            .filter(|name| self.is_valid(name))
            .collect();
        for detector in &self.detectors {
            if !names.contains(&detector.name()) {
                names.push(detector.name());
            }
        }
        names
    }

    /// The detectors this registry can actually run.
    pub fn detectors(&self) -> &[Arc<dyn Detector>] {
        &self.detectors
    }

    fn is_valid(&self, name: &str) -> bool {
        self.find(name).is_some() || pending(name).is_some()
    }

    fn find(&self, name: &str) -> Option<&Arc<dyn Detector>> {
        self.detectors
            .iter()
            .find(|detector| detector.name() == name)
    }

    /// The detectors for the requested names (case and surrounding spaces ignored, duplicates
    /// dropped, registry order kept). An empty request selects every built detector. Pending
    /// names are accepted and contribute nothing; see [`Registry::pending_in`].
    pub fn resolve(
        &self,
        requested: &[String],
    ) -> Result<Vec<Arc<dyn Detector>>, UnknownDetectors> {
        if requested.is_empty() {
            return Ok(self.detectors.clone());
        }
        let wanted: Vec<String> = requested.iter().map(|name| normalize(name)).collect();
        let unknown: Vec<String> = wanted
            .iter()
            .filter(|name| !self.is_valid(name))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(UnknownDetectors {
                unknown,
                valid: self.names().into_iter().map(str::to_owned).collect(),
            });
        }
        Ok(self
            .detectors
            .iter()
            .filter(|detector| wanted.iter().any(|name| name == detector.name()))
            .cloned()
            .collect())
    }

    /// The requested names that are valid but not built yet.
    pub fn pending_in(&self, requested: &[String]) -> Vec<PendingDetector> {
        let mut found: Vec<PendingDetector> = requested
            .iter()
            .map(|name| normalize(name))
            .filter(|name| self.find(name).is_none())
            .filter_map(|name| pending(&name))
            .collect();
        found.dedup_by_key(|pending| pending.name);
        found
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase()
}

fn pending(name: &str) -> Option<PendingDetector> {
    PENDING_DETECTORS
        .iter()
        .find(|pending| pending.name == name)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn every_original_name_is_valid() {
        let registry = Registry::default();
        let valid = registry.names();
        for name in DETECTOR_NAMES {
            assert!(
                valid.contains(name),
                "{name} must stay a valid detector name"
            );
        }
        assert!(registry.resolve(&names(DETECTOR_NAMES)).is_ok());
    }

    #[test]
    fn every_name_is_either_built_or_pending_but_not_both() {
        let registry = Registry::default();
        for name in DETECTOR_NAMES {
            let built = registry.find(name).is_some();
            assert_ne!(built, pending(name).is_some(), "{name}");
        }
    }

    #[test]
    fn unknown_names_are_answered_with_the_valid_ones() {
        let error = Registry::default()
            .resolve(&names(&["security", "nope", "eslint2"]))
            .unwrap_err();
        assert_eq!(error.unknown, names(&["nope", "eslint2"]));
        assert!(error.valid.contains(&"security".to_owned()));
        assert!(error
            .to_string()
            .starts_with("unknown detectors: nope, eslint2; valid detectors:"));
    }

    #[test]
    fn resolve_ignores_case_and_duplicates_and_empty_means_all_built() {
        let registry = Registry::default();
        let selected = registry
            .resolve(&names(&[" Security", "security"]))
            .unwrap();
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0].name(), "security");
        assert_eq!(
            registry.resolve(&[]).unwrap().len(),
            registry.detectors().len()
        );
    }

    #[test]
    fn pending_names_resolve_to_nothing_and_are_reported() {
        let registry = Registry::default();
        assert!(registry.resolve(&names(&["runtime"])).unwrap().is_empty());
        assert_eq!(
            registry.pending_in(&names(&["runtime", "security"]))[0].name,
            "runtime"
        );
    }
}
