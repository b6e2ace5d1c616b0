//! The analysis engine: a directory in, findings out.
//! Owns the `Detector` trait, the registry and every detector.
//! Must not import anything about events, HTTP, SQL or NATS (no domain/application/infrastructure).
