//! The INSi teleservice client: a retrieval by identity traits and a verification of an INS with
//! its traits, sent through the SOAP transport with the structure's certificate. Neither changes
//! anything at the service, so a transient failure is tried once more with the same message id.

use std::time::Duration;

use chrono::Utc;
use dui_exchange::SoapError;
use dui_exchange::insi::{
    self, CallContext, InsiIns, RETRIEVE_ACTION, RetrievalAnswer, RetrievalQuery, Software, VERIFY_ACTION,
    VerificationAnswer, VerificationQuery,
};
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

    fn context(&self, message_id: Uuid) -> CallContext {
        CallContext { message_id, at: Utc::now(), emitter: self.emitter.clone(), software: self.software.clone() }
    }

    /// Searches the INS of the person described by `query`; `message_id` identifies the call
    /// (kept with its result).
    pub async fn retrieve(&self, message_id: Uuid, query: &RetrievalQuery) -> Result<RetrievalAnswer, InsiError> {
        let envelope = insi::retrieval_request(&self.context(message_id), query).map_err(SoapError::from)?;
        Ok(insi::read_retrieval_answer(&self.call(RETRIEVE_ACTION, envelope).await?)?)
    }

    /// Verifies that `query`'s INS and traits belong together.
    pub async fn verify(&self, message_id: Uuid, query: &VerificationQuery) -> Result<VerificationAnswer, InsiError> {
        let envelope = insi::verification_request(&self.context(message_id), query).map_err(SoapError::from)?;
        Ok(insi::read_verification_answer(&self.call(VERIFY_ACTION, envelope).await?)?)
    }

    /// Sends `envelope`, once more after a transient failure.
    async fn call(&self, action: &str, envelope: String) -> Result<Vec<u8>, InsiError> {
        let first = match self.soap.call(action, envelope.clone()).await {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_transient() => error,
            Err(error) => return Err(error.into()),
        };
        tracing::info!(error = %first, "INSi call failed, trying once more");
        tokio::time::sleep(self.retry_after).await;
        match self.soap.call(action, envelope).await {
            Ok(answer) => Ok(answer),
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
    /// The installation's structure.
    client: InsiClient,
    /// Tenants that call as structures of their own.
    tenants: std::collections::HashMap<dui_domain::TenantId, InsiClient>,
    accept_test: bool,
    verification_period_days: u32,
}

impl InsiService {
    /// `client`: the installation's structure; `tenants`: the tenants that call as structures
    /// of their own; `accept_test`: a test installation, where the service's test identities
    /// are kept; `verification_period_days`: after how long an INS is verified again (0: never).
    pub fn new(
        client: InsiClient,
        tenants: std::collections::HashMap<dui_domain::TenantId, InsiClient>,
        accept_test: bool,
        verification_period_days: u32,
    ) -> Self {
        Self { client, tenants, accept_test, verification_period_days }
    }

    /// The client of the structure `tenant` calls as.
    fn client(&self, tenant: dui_domain::TenantId) -> &InsiClient {
        self.tenants.get(&tenant).unwrap_or(&self.client)
    }
}

impl dui_app::insi::InsiPort for InsiService {
    fn retrieve<'a>(
        &'a self,
        tenant: dui_domain::TenantId,
        message_id: Uuid,
        search: &'a dui_domain::insi::InsiSearch,
    ) -> dui_app::insi::InsiFuture<'a> {
        use dui_domain::insi::{FoundIdentity, InsiReply};
        Box::pin(async move {
            match self
                .client(tenant)
                .retrieve(message_id, &query_of(search))
                .await
                .map_err(|error| error.to_string())?
            {
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

    fn verify<'a>(
        &'a self,
        tenant: dui_domain::TenantId,
        message_id: Uuid,
        ins: &'a dui_domain::identity::Ins,
        search: &'a dui_domain::insi::InsiSearch,
    ) -> dui_app::insi::VerifyFuture<'a> {
        Box::pin(async move {
            let query = VerificationQuery {
                ins: InsiIns { matricule: ins.matricule.clone(), oid: ins.oid.as_str().to_owned() },
                traits: query_of(search),
            };
            match self.client(tenant).verify(message_id, &query).await.map_err(|error| error.to_string())? {
                VerificationAnswer::Verified => Ok(true),
                VerificationAnswer::Mismatch => Ok(false),
            }
        })
    }

    fn accepts_test_identities(&self) -> bool {
        self.accept_test
    }

    fn verification_period_days(&self) -> u32 {
        self.verification_period_days
    }
}

fn query_of(search: &dui_domain::insi::InsiSearch) -> RetrievalQuery {
    RetrievalQuery {
        birth_name: search.birth_name.clone(),
        first_name: search.first_name.clone(),
        sex: search.sex,
        birth_date: search.birth_date,
        birth_place: search.birth_place.clone(),
    }
}
