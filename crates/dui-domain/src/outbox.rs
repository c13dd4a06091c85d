//! The outbox: what leaves the system (documents for the national shared record, secure
//! messages), as messages waiting to be sent, their states, their attempts, and the rules of
//! retrying that need no outside world.
//!
//! A message is written in the transaction of the change that caused it, then sent by a worker
//! that leases it for a while; a failure is retryable (the recipient was unreachable, answered
//! "later") or permanent (it refused the message); retryable failures are tried again after an
//! exponential backoff with jitter ([`Backoff`]), until the message's attempts are used up.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::validation::ValidationErrors;
use crate::{EstablishmentId, OutboxMessageId, ResidentId, UserId};

crate::text_codes! {
    /// Where a message stands.
    pub enum MessageStatus {
        /// Waiting for its next attempt.
        Pending = "pending",
        /// Leased by a worker, which is sending it.
        Sending = "sending",
        /// Taken by its recipient.
        Sent = "sent",
        /// Refused for good, or its attempts used up: a person decides (retry or cancel).
        Failed = "failed",
        /// Cancelled by a person: it will not be sent.
        Cancelled = "cancelled",
    }
}

crate::text_codes! {
    /// How an attempt ended.
    pub enum AttemptOutcome {
        Sent = "sent",
        /// Failed, may succeed later.
        Retryable = "retryable",
        /// Refused: trying again would not help.
        Permanent = "permanent",
        /// Its worker stopped before the end (the lease ran out and another worker took over).
        Abandoned = "abandoned",
    }
}

/// A message as the outbox holds it (without its content, which only the worker opens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxMessage {
    pub id: OutboxMessageId,
    /// The person it is about, if any.
    pub resident_id: Option<ResidentId>,
    /// The establishment it leaves from, if any.
    pub establishment_id: Option<EstablishmentId>,
    /// Where it goes (`dmp`, `mssante`, ...).
    pub channel: String,
    /// What it is (`dmp.document`, ...).
    pub kind: String,
    /// Stable across attempts: the recipient recognises a message it already took.
    pub idempotency_key: String,
    pub content_type: String,
    pub status: MessageStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// Attempts allowed before it fails (a manual retry gives a new allowance).
    pub max_attempts: i32,
    /// When it will be tried next (pending), or when its worker's lease ends (sending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What the last failed attempt said.
    pub last_error: Option<String>,
    /// What the recipient answered (its id of the document or message).
    pub receipt: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<UserId>,
}

/// One attempt at sending a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxAttempt {
    /// 1 for the first.
    pub attempt: i32,
    /// The worker that made it.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub worker: Uuid,
    pub started_at: DateTime<Utc>,
    /// Absent while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<AttemptOutcome>,
    pub error: Option<String>,
}

/// A message with every attempt made at sending it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxMessageDetail {
    #[serde(flatten)]
    pub message: OutboxMessage,
    pub attempt_log: Vec<OutboxAttempt>,
}

/// A message to put in the outbox, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub resident: Option<ResidentId>,
    pub establishment: Option<EstablishmentId>,
    pub channel: String,
    pub kind: String,
    pub idempotency_key: String,
    pub content_type: String,
    pub payload: Vec<u8>,
    pub max_attempts: i32,
}

impl std::fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("channel", &self.channel)
            .field("kind", &self.kind)
            .field("idempotency_key", &self.idempotency_key)
            .field("bytes", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// The largest content a message carries (a CDA document with its PDF, a mail with attachments).
pub const MAX_PAYLOAD_BYTES: usize = 20 * 1024 * 1024;

/// The attempts a message gets by default.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 12;

fn code(value: &str, min: usize, max: usize, dots: bool) -> bool {
    let mut chars = value.chars();
    (min..=max).contains(&value.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (dots && c == '.'))
}

impl NewMessage {
    /// Checks a message the code of a use case builds: a bad one is a bug, named field by field.
    pub fn validate(self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !code(&self.channel, 2, 31, false) {
            errors.add("channel", "is a lowercase code of 2 to 31 letters, digits or _");
        }
        if !code(&self.kind, 2, 61, true) {
            errors.add("kind", "is a lowercase code of 2 to 61 letters, digits, _ or .");
        }
        if self.idempotency_key.is_empty() || self.idempotency_key.len() > 200 {
            errors.add("idempotency_key", "has 1 to 200 characters");
        }
        if self.content_type.is_empty() || self.content_type.len() > 200 {
            errors.add("content_type", "has 1 to 200 characters");
        }
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            errors.add("payload", "is larger than 20 MiB");
        }
        if !(1..=100).contains(&self.max_attempts) {
            errors.add("max_attempts", "is between 1 and 100");
        }
        errors.into_result(|| self)
    }
}

/// Exponential backoff with jitter: the n-th retry waits between half and all of
/// `base × 2^(n−1)`, capped at `max` (spread so that messages failing together do not all come
/// back together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: std::time::Duration,
    pub max: std::time::Duration,
}

impl Backoff {
    /// The wait before retry number `failures` (1 after the first failure), for `unit` drawn
    /// uniformly in [0, 1).
    pub fn delay(&self, failures: u32, unit: f64) -> std::time::Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.0 };
        ceiling.div_f64(2.0) + ceiling.div_f64(2.0).mul_f64(unit)
    }
}

/// What a message's state allows a person to do.
impl MessageStatus {
    /// A person may send it again: it failed.
    pub fn retryable_by_hand(self) -> bool {
        self == Self::Failed
    }

    /// A person may cancel it: it waits, or failed (a message being sent cannot be called back).
    pub fn cancellable(self) -> bool {
        matches!(self, Self::Pending | Self::Failed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn message() -> NewMessage {
        NewMessage {
            resident: None,
            establishment: None,
            channel: "dmp".to_owned(),
            kind: "dmp.document".to_owned(),
            idempotency_key: "doc-1".to_owned(),
            content_type: "application/xml".to_owned(),
            payload: b"<ClinicalDocument/>".to_vec(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_its_cap() {
        let backoff = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(3600) };
        assert_eq!(backoff.delay(1, 0.0), Duration::from_secs(5));
        assert_eq!(backoff.delay(1, 1.0), Duration::from_secs(10));
        assert_eq!(backoff.delay(2, 0.0), Duration::from_secs(10));
        assert_eq!(backoff.delay(4, 0.5), Duration::from_secs(60));
        assert_eq!(backoff.delay(12, 1.0), Duration::from_secs(3600));
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_secs(1800), "no overflow");
        assert_eq!(backoff.delay(0, f64::NAN), Duration::from_secs(5), "a bad draw is the shortest wait");
        for failures in 1..20 {
            let (low, high) = (backoff.delay(failures, 0.0), backoff.delay(failures, 1.0));
            assert!(low <= high && high <= backoff.max && high <= low * 2);
        }
    }

    #[test]
    fn a_message_is_checked_field_by_field() {
        assert!(message().validate().is_ok());
        let bad = NewMessage {
            channel: "DMP".to_owned(),
            kind: "x".to_owned(),
            idempotency_key: String::new(),
            content_type: String::new(),
            max_attempts: 0,
            ..message()
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["channel", "kind", "idempotency_key", "content_type", "max_attempts"]);
        let large = NewMessage { payload: vec![0; MAX_PAYLOAD_BYTES + 1], ..message() };
        assert!(large.validate().is_err());
    }

    #[test]
    fn a_person_retries_failures_and_cancels_what_is_not_in_flight() {
        let retryable: Vec<_> = MessageStatus::ALL.iter().filter(|s| s.retryable_by_hand()).collect();
        assert_eq!(retryable, [&MessageStatus::Failed]);
        let cancellable: Vec<_> = MessageStatus::ALL.iter().filter(|s| s.cancellable()).collect();
        assert_eq!(cancellable, [&MessageStatus::Pending, &MessageStatus::Failed]);
    }
}
