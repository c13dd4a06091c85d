//! SOAP 1.2 envelopes: written from their header blocks and body, read back into the body's
//! element or the fault the service answered.

use crate::xml::{self, Element, FormatError};

/// The SOAP 1.2 envelope namespace.
pub const ENVELOPE: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Addressing (the action and the message id headers).
pub const ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";

/// A fault answered by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `soap:Sender` (the request is at fault) or `soap:Receiver` (the service is), as written.
    pub code: String,
    /// The service's own code, when it gives one.
    pub subcode: Option<String>,
    pub reason: String,
}

impl Fault {
    /// Whether the service blames the request (retrying the same request cannot help).
    pub fn is_senders(&self) -> bool {
        self.code.ends_with("Sender")
    }
}

/// Why an answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The fault's reason is the service's text, which may echo what was sent: it is kept in
    /// the value, for the professional, and left out of the message, which reaches the logs.
    #[error("the service answered a SOAP fault ({})", .0.code)]
    Fault(Fault),
}

/// An envelope around `headers` (header blocks, each a complete element) and `body` (one
/// element); `namespaces` are declared on the envelope as `(prefix, uri)`.
pub fn envelope(namespaces: &[(&str, &str)], headers: &[String], body: &str) -> String {
    let mut declared = format!(r#" xmlns:soap="{ENVELOPE}" xmlns:wsa="{ADDRESSING}""#);
    for (prefix, uri) in namespaces {
        declared.push_str(&format!(r#" xmlns:{prefix}="{}""#, xml::escape(uri)));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope{declared}><soap:Header>{}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"#,
        headers.concat()
    )
}

/// A text element `<prefix:name>text</prefix:name>`, the text escaped.
pub fn text_element(prefix: &str, name: &str, text: &str) -> String {
    format!("<{prefix}:{name}>{}</{prefix}:{name}>", xml::escape(text))
}

/// The envelope read: its header element (if any) and the body's element, or the fault.
pub fn read(document: &[u8]) -> Result<(Option<Element>, Element), SoapError> {
    let root = xml::parse(document)?;
    if !root.is(ENVELOPE, "Envelope") {
        return Err(FormatError::Unexpected("the answer is not a SOAP 1.2 envelope".to_owned()).into());
    }
    let header = root.children.iter().find(|c| c.is(ENVELOPE, "Header")).cloned();
    let body = root
        .children
        .iter()
        .find(|c| c.is(ENVELOPE, "Body"))
        .ok_or_else(|| FormatError::Unexpected("the envelope has no body".to_owned()))?;
    let content =
        body.children.first().ok_or_else(|| FormatError::Unexpected("the envelope's body is empty".to_owned()))?;
    if content.is(ENVELOPE, "Fault") {
        return Err(SoapError::Fault(Fault {
            code: content.required(&["Code", "Value"])?.to_owned(),
            subcode: content.text_at(&["Code", "Subcode", "Value"]).map(str::to_owned),
            reason: content.text_at(&["Reason", "Text"]).unwrap_or("").to_owned(),
        }));
    }
    Ok((header, content.clone()))
}

/// A fault envelope (what a service answers when it refuses a request).
pub fn fault(code: &str, subcode: Option<&str>, reason: &str) -> String {
    let subcode = subcode
        .map(|s| format!("<soap:Subcode><soap:Value>{}</soap:Value></soap:Subcode>", xml::escape(s)))
        .unwrap_or_default();
    let body = format!(
        r#"<soap:Fault><soap:Code><soap:Value>{}</soap:Value>{subcode}</soap:Code><soap:Reason><soap:Text xml:lang="fr">{}</soap:Text></soap:Reason></soap:Fault>"#,
        xml::escape(code),
        xml::escape(reason)
    );
    envelope(&[], &[], &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_reads_back_and_a_fault_is_an_error() {
        let written = envelope(
            &[("x", "urn:x")],
            &[text_element("wsa", "Action", "urn:act")],
            &text_element("x", "Ask", "a < b"),
        );
        let (header, body) = read(written.as_bytes()).unwrap();
        assert_eq!(header.unwrap().text_at(&["Action"]), Some("urn:act"));
        assert!(body.is("urn:x", "Ask"));
        assert_eq!(body.text, "a < b");

        let refused = fault("soap:Sender", Some("siram:Erreur"), "Requête invalide");
        match read(refused.as_bytes()) {
            Err(SoapError::Fault(fault)) => {
                assert_eq!(fault.code, "soap:Sender");
                assert_eq!(fault.subcode.as_deref(), Some("siram:Erreur"));
                assert_eq!(fault.reason, "Requête invalide");
                assert!(fault.is_senders());
            }
            other => panic!("{other:?}"),
        }
        // SOAP 1.1, or not an envelope at all: refused, saying why.
        let soap11 =
            br#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><a/></e:Body></e:Envelope>"#;
        assert!(read(soap11).unwrap_err().to_string().contains("SOAP 1.2"));
        let empty = format!(r#"<soap:Envelope xmlns:soap="{ENVELOPE}"><soap:Body/></soap:Envelope>"#);
        assert!(read(empty.as_bytes()).is_err());
    }
}
