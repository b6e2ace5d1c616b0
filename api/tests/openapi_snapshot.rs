//! The OpenAPI document is the contract with clients: any change to it shows up here as a
//! snapshot diff to review (`cargo insta review`, or INSTA_UPDATE=always to accept).

#[test]
fn the_openapi_document_matches_the_reviewed_snapshot() {
    let document = serde_json::to_value(api::openapi::document()).expect("document serialises");
    insta::assert_json_snapshot!("openapi", document);
}

#[test]
fn every_endpoint_of_the_contract_is_documented() {
    let document = serde_json::to_value(api::openapi::document()).unwrap();
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/insight/projects", "post"),
        ("/api/insight/projects", "get"),
        ("/api/insight/projects/{id}", "get"),
        ("/api/insight/analysis", "post"),
        ("/api/insight/analysis/{id}", "get"),
        ("/api/insight/analyses", "get"),
        ("/api/insight/analysis/{id}/cancel", "post"),
        ("/api/insight/tokens", "post"),
        ("/api/insight/tokens/{id}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|item| item.get(method)).is_some(),
            "{method} {path} is missing"
        );
    }
}
