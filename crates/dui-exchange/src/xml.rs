//! Reading the answers of national services: a document becomes a small tree of elements, each
//! named by its namespace and local name. Nothing is fetched or expanded: a document type
//! declaration is refused (so no external or custom entity can be), only the five predefined
//! entities and character references are read, and documents deeper than [`MAX_DEPTH`] are
//! refused.

use quick_xml::NsReader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// Deeper than any answer of the services read here.
pub const MAX_DEPTH: usize = 32;

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document declares a document type (DTD), which is not accepted")]
    DocumentType,
    #[error("the document is nested deeper than {MAX_DEPTH} elements")]
    TooDeep,
    /// Well-formed, but not what the exchange says it is.
    #[error("{0}")]
    Unexpected(String),
}

/// An element: its namespace, local name, the text directly inside it (trimmed) and its child
/// elements, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub namespace: Option<String>,
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Whether this is `name` in `namespace`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.name == name && self.namespace.as_deref() == Some(namespace)
    }

    /// The first child named `name` (in any namespace: the services' answers mix prefixes and
    /// default namespaces for the same elements).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the descendant at `path` (child names), if there is one and it is not empty.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        let mut current = self;
        for name in path {
            current = current.child(name)?;
        }
        Some(current.text.as_str()).filter(|t| !t.is_empty())
    }

    /// [`Element::text_at`], or an error naming the missing path.
    pub fn required(&self, path: &[&str]) -> Result<&str, FormatError> {
        self.text_at(path)
            .ok_or_else(|| FormatError::Unexpected(format!("{}/{} is missing or empty", self.name, path.join("/"))))
    }
}

fn malformed(error: impl std::fmt::Display) -> FormatError {
    FormatError::Malformed(error.to_string())
}

/// Reads a whole document into its root element.
pub fn parse(document: &[u8]) -> Result<Element, FormatError> {
    let mut reader = NsReader::from_reader(document);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(malformed)?;
        let namespace = match namespace {
            ResolveResult::Bound(ns) => Some(String::from_utf8(ns.0.to_vec()).map_err(malformed)?),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(prefix) => {
                return Err(FormatError::Malformed(format!(
                    "the prefix {} is not declared",
                    String::from_utf8_lossy(&prefix)
                )));
            }
        };
        match event {
            Event::DocType(_) => return Err(FormatError::DocumentType),
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(FormatError::Malformed("content after the root element".to_owned()));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(FormatError::TooDeep);
                }
                let name = String::from_utf8(start.local_name().as_ref().to_vec()).map_err(malformed)?;
                stack.push(Element { namespace, name, text: String::new(), children: Vec::new() });
            }
            Event::Empty(start) => {
                let name = String::from_utf8(start.local_name().as_ref().to_vec()).map_err(malformed)?;
                let element = Element { namespace, name, text: String::new(), children: Vec::new() };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let mut element = stack.pop().ok_or_else(|| malformed("an end tag without its start"))?;
                element.text = element.text.trim().to_owned();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => {
                let text = text.xml_content().map_err(malformed)?;
                match stack.last_mut() {
                    Some(element) => element.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::CData(data) => {
                let text = data.decode().map_err(malformed)?;
                let element = stack.last_mut().ok_or_else(|| malformed("CDATA outside the root element"))?;
                element.text.push_str(&text);
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference.resolve_char_ref().map_err(malformed)?.map(String::from)
                } else {
                    let name = reference.decode().map_err(malformed)?;
                    resolve_predefined_entity(&name).map(str::to_owned)
                };
                let text = resolved.ok_or_else(|| malformed("an entity other than the predefined ones"))?;
                let element = stack.last_mut().ok_or_else(|| malformed("a reference outside the root element"))?;
                element.text.push_str(&text);
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the document ends inside an element"));
    }
    root.ok_or_else(|| malformed("the document has no element"))
}

/// `value` escaped for element text or an attribute value.
pub fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_read_with_their_namespaces_and_text() {
        let document = br#"<?xml version="1.0"?>
            <a:root xmlns:a="urn:a" xmlns="urn:b"><child>D&apos;ARTAGNAN &amp; fils &#233;</child><empty/>
            <!-- a comment --><child><![CDATA[<raw>]]></child></a:root>"#;
        let root = parse(document).unwrap();
        assert!(root.is("urn:a", "root"));
        assert_eq!(root.children.len(), 3);
        assert!(root.children[0].is("urn:b", "child"));
        assert_eq!(root.children[0].text, "D'ARTAGNAN & fils é");
        assert_eq!(root.children[1].name, "empty");
        assert_eq!(root.children_named("child").nth(1).unwrap().text, "<raw>");
        assert_eq!(root.text_at(&["child"]), Some("D'ARTAGNAN & fils é"));
        assert_eq!(root.text_at(&["empty"]), None);
        assert!(root.required(&["missing"]).unwrap_err().to_string().contains("root/missing"));
    }

    #[test]
    fn nothing_is_expanded_or_fetched() {
        // The classic attacks: an external entity, and the billion laughs.
        let external = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert_eq!(parse(external), Err(FormatError::DocumentType));
        let laughs = br#"<!DOCTYPE r [<!ENTITY a "ha"><!ENTITY b "&a;&a;">]><r>&b;</r>"#;
        assert_eq!(parse(laughs), Err(FormatError::DocumentType));
        // An entity never declared is an error, not an empty string.
        assert!(matches!(parse(b"<r>&nbsp;</r>"), Err(FormatError::Malformed(_))));
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(deep.as_bytes()), Err(FormatError::TooDeep));
    }

    #[test]
    fn broken_documents_are_refused() {
        for broken in [&b""[..], b"<a>", b"<a></b>", b"<a/><b/>", b"text", b"<p:a/>", b"<a>\xff</a>"] {
            assert!(parse(broken).is_err(), "{}", String::from_utf8_lossy(broken));
        }
    }
}
