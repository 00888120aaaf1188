//! A small, bounded element tree built from quick-xml's `NsReader`.
//!
//! Every name carries the namespace URI it resolved to; the parsers match on
//! (URI, local name) and never look at prefixes. The builder enforces the limits
//! in [`crate::limits`] and full well-formedness: matching end tags, one root,
//! nothing but whitespace, comments and PIs outside it, no DOCTYPE, no undefined
//! entities, no unbound prefixes, no duplicate attributes.

use crate::error::CbsError;
use crate::limits;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};
use std::collections::HashSet;
use std::rc::Rc;

/// An attribute in no namespace (unprefixed) has `ns == None`.
#[derive(Debug)]
pub(crate) struct Attr {
    pub ns: Option<Rc<str>>,
    pub local: String,
    pub value: String,
}

#[derive(Debug)]
pub(crate) struct Element {
    /// Interned: a long URI declared once must not be copied into every element.
    pub ns: Option<Rc<str>>,
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// Text of a leaf element (cleared once a child element appears: mixed
    /// content is never needed and would let whitespace grow without bound).
    pub text: String,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    /// Unprefixed attribute by local name (CBS attributes are all unprefixed).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// `{uri}local` or `local`, for messages.
    pub fn qualified(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => self.local.clone(),
        }
    }
}

fn line_of(text: &str, position: u64) -> u64 {
    let end = usize::try_from(position)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let newlines = text
        .as_bytes()
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
    newlines as u64 + 1
}

struct Builder<'t> {
    text: &'t str,
    reader: NsReader<&'t [u8]>,
    stack: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    attributes: usize,
    /// Offset where the event being handled starts (for our own error positions).
    event_start: u64,
    namespaces: HashSet<Rc<str>>,
}

impl<'t> Builder<'t> {
    fn ill(&self, position: u64, reason: impl Into<String>) -> CbsError {
        CbsError::NotWellFormed {
            position,
            line: line_of(self.text, position),
            reason: reason.into(),
        }
    }

    fn here(&self, reason: impl Into<String>) -> CbsError {
        self.ill(self.event_start, reason)
    }

    fn quick_err(&self, err: quick_xml::Error) -> CbsError {
        self.ill(self.reader.error_position(), err.to_string())
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<Element, CbsError> {
        if self.root.is_some() {
            return Err(self.here("content after the root element"));
        }
        if self.stack.len() >= limits::MAX_DEPTH {
            return Err(CbsError::TooDeep {
                limit: limits::MAX_DEPTH,
                position: self.event_start,
            });
        }
        self.elements += 1;
        if self.elements > limits::MAX_ELEMENTS {
            return Err(CbsError::TooLarge {
                what: limits::Limit::Elements,
                limit: limits::MAX_ELEMENTS,
                value: self.elements,
            });
        }
        let (ns, local) = {
            let (res, local) = self.reader.resolver().resolve_element(start.name());
            (intern(&mut self.namespaces, res), local.as_ref().to_owned())
        };
        let ns = ns.map_err(|p| self.here(format!("unbound namespace prefix {p:?}")))?;
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| self.here(format!("bad attribute: {e}")))?;
            if attr.key.as_namespace_binding().is_some() {
                if attr.value.len() > limits::MAX_NAMESPACE_URI_LEN {
                    return Err(CbsError::TooLarge {
                        what: limits::Limit::NamespaceUriLen,
                        limit: limits::MAX_NAMESPACE_URI_LEN,
                        value: attr.value.len(),
                    });
                }
                continue;
            }
            self.attributes += 1;
            if self.attributes > limits::MAX_TOTAL_ATTRIBUTES {
                return Err(CbsError::TooLarge {
                    what: limits::Limit::TotalAttributes,
                    limit: limits::MAX_TOTAL_ATTRIBUTES,
                    value: self.attributes,
                });
            }
            if attrs.len() >= limits::MAX_ATTRIBUTES {
                return Err(CbsError::TooLarge {
                    what: limits::Limit::Attributes,
                    limit: limits::MAX_ATTRIBUTES,
                    value: attrs.len() + 1,
                });
            }
            if attr.value.len() > limits::MAX_ATTR_LEN {
                return Err(CbsError::TooLarge {
                    what: limits::Limit::AttrLen,
                    limit: limits::MAX_ATTR_LEN,
                    value: attr.value.len(),
                });
            }
            let (res, local) = self.reader.resolver().resolve_attribute(attr.key);
            let ans = intern(&mut self.namespaces, res)
                .map_err(|p| self.here(format!("unbound namespace prefix {p:?}")))?;
            let local = local.as_ref().to_owned();
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| self.here(format!("bad value of attribute {local}: {e}")))?
                .into_owned();
            attrs.push(Attr {
                ns: ans,
                local,
                value,
            });
        }
        Ok(Element {
            ns,
            local,
            attrs,
            children: Vec::new(),
            text: String::new(),
        })
    }

    fn close(&mut self, element: Element) {
        match self.stack.last_mut() {
            Some(parent) => {
                parent.text.clear();
                parent.children.push(element);
            }
            None => self.root = Some(element),
        }
    }

    fn add_text(&mut self, chunk: &str) -> Result<(), CbsError> {
        match self.stack.last_mut() {
            None => {
                if chunk.trim().is_empty() {
                    Ok(())
                } else if self.root.is_some() {
                    Err(self.here("text after the root element"))
                } else {
                    Err(self.here("text before the root element"))
                }
            }
            Some(el) => {
                if !el.children.is_empty() {
                    return Ok(());
                }
                let value = el.text.len().saturating_add(chunk.len());
                if value > limits::MAX_TEXT_LEN {
                    return Err(CbsError::TooLarge {
                        what: limits::Limit::TextLen,
                        limit: limits::MAX_TEXT_LEN,
                        value,
                    });
                }
                el.text.push_str(chunk);
                Ok(())
            }
        }
    }

    fn run(mut self) -> Result<Element, CbsError> {
        {
            let config = self.reader.config_mut();
            config.enable_all_checks(true);
            config.check_end_names = true;
            config.allow_unmatched_ends = false;
            config.allow_dangling_amp = false;
            config.expand_empty_elements = false;
        }
        loop {
            self.event_start = self.reader.buffer_position();
            let event = match self.reader.read_event() {
                Ok(ev) => ev,
                Err(e) => return Err(self.quick_err(e)),
            };
            match event {
                Event::Start(start) => {
                    let el = self.open(&start)?;
                    self.stack.push(el);
                }
                Event::Empty(start) => {
                    let el = self.open(&start)?;
                    self.close(el);
                }
                Event::End(_) => match self.stack.pop() {
                    Some(el) => self.close(el),
                    None => return Err(self.here("end tag without start tag")),
                },
                Event::Text(t) => {
                    let chunk = t.xml10_content();
                    self.add_text(&chunk)?;
                }
                Event::CData(c) => {
                    let chunk = c.xml10_content();
                    self.add_text(&chunk)?;
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch.to_string(),
                        Ok(None) => match resolve_predefined_entity(&r) {
                            Some(s) => s.to_owned(),
                            None => {
                                return Err(
                                    self.here(format!("undefined entity &{};", r.as_ref() as &str))
                                )
                            }
                        },
                        Err(e) => return Err(self.here(format!("bad character reference: {e}"))),
                    };
                    self.add_text(&resolved)?;
                }
                Event::DocType(_) => {
                    return Err(self.here("DOCTYPE is not allowed in CBS documents"))
                }
                Event::Decl(_) if self.event_start != 0 => {
                    return Err(self.here("XML declaration not at the start of the document"))
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = self.stack.last() {
            let name = open.local.clone();
            return Err(self.here(format!("truncated document: <{name}> is never closed")));
        }
        match self.root.take() {
            Some(root) => Ok(root),
            None => Err(self.here("no root element")),
        }
    }
}

/// Interns a resolved namespace: `Ok(None)` for no namespace, `Err(prefix)` for an
/// unbound prefix. Never copies a URI that was seen before.
fn intern(
    namespaces: &mut HashSet<Rc<str>>,
    res: ResolveResult<'_>,
) -> Result<Option<Rc<str>>, String> {
    let uri = match res {
        ResolveResult::Bound(ns) => ns.into_inner(),
        ResolveResult::Unbound => return Ok(None),
        ResolveResult::Unknown(p) => return Err(p),
    };
    if let Some(known) = namespaces.get(uri) {
        return Ok(Some(Rc::clone(known)));
    }
    let rc: Rc<str> = Rc::from(uri);
    namespaces.insert(Rc::clone(&rc));
    Ok(Some(rc))
}

/// Parses a whole document (already decoded to UTF-8) into a tree.
pub(crate) fn parse(text: &str) -> Result<Element, CbsError> {
    // NUL is never legal in XML 1.0 and quick-xml does not check characters.
    if let Some(at) = text.find('\0') {
        let position = at as u64;
        return Err(CbsError::NotWellFormed {
            position,
            line: line_of(text, position),
            reason: "NUL character".into(),
        });
    }
    Builder {
        text,
        reader: NsReader::from_str(text),
        stack: Vec::new(),
        root: None,
        elements: 0,
        attributes: 0,
        event_start: 0,
        namespaces: HashSet::new(),
    }
    .run()
}

/// Decodes and parses, then checks the root is `{ns}local` for one of `accepted` namespaces.
pub(crate) fn parse_root(
    bytes: &[u8],
    accepted: &[&str],
    local: &str,
    expected: &'static str,
) -> Result<Element, CbsError> {
    let text = crate::text::decode_xml(bytes)?;
    let root = parse(&text)?;
    let ok = root.local == local && accepted.iter().any(|ns| root.ns.as_deref() == Some(ns));
    if !ok {
        return Err(CbsError::WrongRoot {
            expected,
            found: root.qualified(),
        });
    }
    Ok(root)
}
