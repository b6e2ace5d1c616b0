//! Customer webhooks in Postgres and their dispatcher: endpoints and deliveries (`store`), the
//! HTTP attempt with its address checks (`http`), and the dispatcher that turns events from
//! JetStream into deliveries and sends them on their retry schedule (`dispatcher`).

pub mod dispatcher;
pub mod http;
pub mod store;

pub use dispatcher::{Dispatcher, DispatcherHandle, DispatcherSettings, InternalEndpoint};
pub use http::{HostResolver, SystemResolver};
pub use store::{PgReceivedMessages, PgWebhookStore};

/// The stored event type (`AnalysisCompleted`) and aggregate of a public webhook type.
pub fn stored_event_type(public: &str) -> Option<(&'static str, &'static str)> {
    Some(match public {
        "analysis.requested" => ("Analysis", "AnalysisRequested"),
        "analysis.started" => ("Analysis", "AnalysisStarted"),
        "analysis.completed" => ("Analysis", "AnalysisCompleted"),
        "analysis.failed" => ("Analysis", "AnalysisFailed"),
        "analysis.cancelled" => ("Analysis", "AnalysisCancelled"),
        "project.created" => ("Project", "ProjectCreated"),
        "project.renamed" => ("Project", "ProjectRenamed"),
        "project.archived" => ("Project", "ProjectArchived"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_webhook_type_maps_back_to_its_stored_event() {
        for public in application::webhooks::WEBHOOK_EVENT_TYPES {
            let (aggregate, event) = stored_event_type(public).expect(public);
            assert_eq!(crate::public_events::public_type(aggregate, event), *public);
        }
    }
}
