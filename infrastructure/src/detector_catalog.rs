use application::DetectorCatalog;
use detectors::Registry;

/// The detector names clients may ask for, straight from the detector engine's registry, so
/// the API and the engine can never disagree. The outside tools (`oxlint`, `eslint-cli`, `tsc`,
/// `semgrep`) are valid names but left out of the default selection: they run only when named.
#[derive(Default)]
pub struct RegistryDetectorCatalog {
    registry: Registry,
}

impl DetectorCatalog for RegistryDetectorCatalog {
    fn valid_names(&self) -> Vec<String> {
        self.registry
            .names()
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    fn default_selection(&self) -> Vec<String> {
        self.registry
            .default_selection()
            .iter()
            .map(|detector| detector.name().to_string())
            .collect()
    }
}
