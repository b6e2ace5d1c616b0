use chrono::{DateTime, Utc};

/// The wall clock. The domain never reads it; use cases put its readings into commands.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl application::Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
