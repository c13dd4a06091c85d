//! The INSi teleservice client: a retrieval by identity traits, sent through the SOAP transport
//! with the structure's certificate. A retrieval changes nothing at the service, so a transient
//! failure is tried once more with the same message id.

use std::time::Duration;

use chrono::Utc;
use dui_exchange::SoapError;
use dui_exchange::insi::{self, CallContext, RETRIEVE_ACTION, RetrievalAnswer, RetrievalQuery, Software};
use uuid::Uuid;

use super::soap_client::{CallError, SoapClient};

/// Why a retrieval has no answer to use. Its message names no trait and no INS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsiError {
    #[error("INSi could not be called: {0}")]
    Transport(#[from] CallError),
    #[error("INSi's answer could not be used: {0}")]
    Answer(#[from] SoapError),
}

/// The INSi client of one installation: the transport, the software as the service knows it,
/// and the calling structure.
#[derive(Debug, Clone)]
pub struct InsiClient {
    soap: SoapClient,
    software: Software,
    emitter: String,
    retry_after: Duration,
}

impl InsiClient {
    pub fn new(soap: SoapClient, software: Software, emitter: String) -> Self {
        Self { soap, software, emitter, retry_after: Duration::from_millis(200) }
    }

    /// Searches the INS of the person described by `query`; `message_id` identifies the call
    /// (kept with its result).
    pub async fn retrieve(&self, message_id: Uuid, query: &RetrievalQuery) -> Result<RetrievalAnswer, InsiError> {
        let context =
            CallContext { message_id, at: Utc::now(), emitter: self.emitter.clone(), software: self.software.clone() };
        let envelope = insi::retrieval_request(&context, query).map_err(SoapError::from)?;
        let first = match self.soap.call(RETRIEVE_ACTION, envelope.clone()).await {
            Ok(answer) => return Ok(insi::read_retrieval_answer(&answer)?),
            Err(error) if error.is_transient() => error,
            Err(error) => return Err(error.into()),
        };
        tracing::info!(error = %first, "INSi retrieval failed, trying once more");
        tokio::time::sleep(self.retry_after).await;
        match self.soap.call(RETRIEVE_ACTION, envelope).await {
            Ok(answer) => Ok(insi::read_retrieval_answer(&answer)?),
            // The first failure opened the breaker: that failure is the one to tell.
            Err(CallError::Suspended(_)) => Err(first.into()),
            Err(error) => Err(error.into()),
        }
    }
}

/// The INSi client as the use cases reach it ([`dui_app::insi::InsiPort`]): the domain's search
/// in, the service's answer out, unchecked (the use case checks the INS found).
#[derive(Debug, Clone)]
pub struct InsiService {
    client: InsiClient,
    accept_test: bool,
}

impl InsiService {
    /// `accept_test`: a test installation, where the service's test identities are kept.
    pub fn new(client: InsiClient, accept_test: bool) -> Self {
        Self { client, accept_test }
    }
}

impl dui_app::insi::InsiPort for InsiService {
    fn retrieve<'a>(
        &'a self,
        message_id: Uuid,
        search: &'a dui_domain::insi::InsiSearch,
    ) -> dui_app::insi::InsiFuture<'a> {
        use dui_domain::insi::{FoundIdentity, InsiReply};
        Box::pin(async move {
            let query = RetrievalQuery {
                birth_name: search.birth_name.clone(),
                first_name: search.first_name.clone(),
                sex: search.sex,
                birth_date: search.birth_date,
                birth_place: search.birth_place.clone(),
            };
            match self.client.retrieve(message_id, &query).await.map_err(|error| error.to_string())? {
                RetrievalAnswer::One(found) => {
                    let oid = dui_domain::identity::InsOid::parse(&found.ins.oid).ok_or_else(|| {
                        "the service gave an INS of an authority this server does not know".to_owned()
                    })?;
                    Ok(InsiReply::Found(FoundIdentity {
                        ins: dui_domain::identity::Ins { matricule: found.ins.matricule, oid },
                        birth_name: found.traits.birth_name,
                        first_names: found.traits.first_names,
                        sex: found.traits.sex,
                        birth_date: found.traits.birth_date,
                        birth_place: found.traits.birth_place,
                    }))
                }
                RetrievalAnswer::NoneFound => Ok(InsiReply::NoneFound),
                RetrievalAnswer::Several => Ok(InsiReply::Several),
            }
        })
    }

    fn accepts_test_identities(&self) -> bool {
        self.accept_test
    }
}
