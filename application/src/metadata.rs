use std::collections::HashMap;
use std::fmt;

use uuid::Uuid;

/// Who caused a command: stored on every event (`actor` column) for auditors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(domain::UserId),
    Worker(String),
    System(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Worker(name) => write!(f, "worker:{name}"),
            Actor::System(name) => write!(f, "system:{name}"),
        }
    }
}

/// Metadata every command carries into its events (DESIGN: actor, correlation id, causation id,
/// command id). The event store turns the keys into typed columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    pub actor: Actor,
    /// One id for everything one client request (or one job) set in motion.
    pub correlation_id: Uuid,
    /// The event or request that caused this command, when there is one.
    pub causation_id: Option<Uuid>,
    pub command_id: Uuid,
}

impl CommandMetadata {
    /// A new command by `actor` inside the flow `correlation_id`.
    pub fn new(actor: Actor, correlation_id: Uuid) -> Self {
        Self {
            actor,
            correlation_id,
            causation_id: None,
            command_id: Uuid::now_v7(),
        }
    }

    pub fn caused_by(mut self, causation_id: Uuid) -> Self {
        self.causation_id = Some(causation_id);
        self
    }

    /// The same flow, a fresh command id: for the next command of one use case.
    pub fn next_command(&self) -> Self {
        Self {
            command_id: Uuid::now_v7(),
            ..self.clone()
        }
    }

    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(4);
        map.insert("actor".to_string(), self.actor.to_string());
        map.insert(
            "correlation_id".to_string(),
            self.correlation_id.to_string(),
        );
        map.insert("command_id".to_string(), self.command_id.to_string());
        if let Some(causation_id) = self.causation_id {
            map.insert("causation_id".to_string(), causation_id.to_string());
        }
        map
    }
}
