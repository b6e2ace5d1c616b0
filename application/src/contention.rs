//! Optimistic concurrency, decided again: when another command appended to the same stream
//! between our load and our append, the append fails and the command is decided again against
//! the new state. Jittered, growing pauses keep many contenders (fifty submissions of one user
//! at once) from colliding in lockstep.

use std::time::Duration;

use rand::Rng;

/// Attempts before a caller gives up with `AppError::ContentionExhausted`.
const MAX_ATTEMPTS: u32 = 100;

pub(crate) struct ContentionBackoff {
    attempt: u32,
}

impl ContentionBackoff {
    pub(crate) fn new() -> Self {
        Self { attempt: 0 }
    }

    /// Pauses before the next attempt; false when the attempts are used up.
    pub(crate) async fn wait(&mut self) -> bool {
        self.attempt += 1;
        if self.attempt >= MAX_ATTEMPTS {
            return false;
        }
        let ceiling_ms = 2u64.saturating_pow(self.attempt.min(5)).min(25);
        let pause = rand::rng().random_range(0..=ceiling_ms * 1000);
        tokio::time::sleep(Duration::from_micros(pause)).await;
        true
    }
}
