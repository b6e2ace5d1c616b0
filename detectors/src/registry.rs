//! Which detectors exist, by the names clients select them with.

use crate::detector::Detector;
use crate::detectors;
use std::sync::Arc;

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

/// The outside tools: valid names that run only when an analysis names them (see
/// [`crate::detectors::tools`]).
pub use crate::detectors::tools::TOOL_NAMES;

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

    /// Every valid name: the built detectors in the original product's order, then any extra
    /// detector this registry holds (the outside tools, [`TOOL_NAMES`]).
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

    /// What an analysis that names no detectors runs: every detector but the outside tools.
    pub fn default_selection(&self) -> Vec<Arc<dyn Detector>> {
        self.detectors
            .iter()
            .filter(|detector| detector.runs_by_default())
            .cloned()
            .collect()
    }

    fn is_valid(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn find(&self, name: &str) -> Option<&Arc<dyn Detector>> {
        self.detectors
            .iter()
            .find(|detector| detector.name() == name)
    }

    /// The detectors for the requested names (case and surrounding spaces ignored, duplicates
    /// dropped, registry order kept). An empty request selects [`Registry::default_selection`].
    pub fn resolve(
        &self,
        requested: &[String],
    ) -> Result<Vec<Arc<dyn Detector>>, UnknownDetectors> {
        if requested.is_empty() {
            return Ok(self.default_selection());
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
}

fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase()
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
    fn every_name_has_a_built_detector_and_every_detector_a_listed_name() {
        let registry = Registry::default();
        for name in DETECTOR_NAMES {
            assert!(registry.find(name).is_some(), "{name} has no detector");
        }
        for detector in registry.detectors() {
            assert!(
                DETECTOR_NAMES.contains(&detector.name()) || TOOL_NAMES.contains(&detector.name()),
                "{}",
                detector.name()
            );
        }
        for name in TOOL_NAMES {
            assert!(registry.find(name).is_some(), "{name} has no detector");
        }
    }

    #[test]
    fn outside_tools_are_valid_names_but_run_only_when_named() {
        let registry = Registry::default();
        let valid = registry.names();
        let default: Vec<&str> = registry
            .resolve(&[])
            .unwrap()
            .iter()
            .map(|detector| detector.name())
            .collect();
        assert_eq!(default, DETECTOR_NAMES);
        for name in TOOL_NAMES {
            assert!(valid.contains(name), "{name}");
            let selected = registry.resolve(&names(&[name])).unwrap();
            assert_eq!(selected[0].name(), *name);
        }
        assert!(valid.contains(&"eslint") && valid.contains(&"eslint-cli"));
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
        assert_eq!(registry.resolve(&[]).unwrap().len(), DETECTOR_NAMES.len());
    }
}
