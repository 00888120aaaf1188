//! One walk over nested containers for every consumer (the scan engine, `kbscan extract`).
//!
//! [`Walker::walk`] reads a CAB (an MSU, a payload cabinet) or a ZIP, hands every member to a
//! [`Sink`], and descends into members that are containers themselves when the sink asks
//! for it. What differs between scanning and extracting is the sink; what must be the same
//! everywhere lives here, once:
//! - **nesting**: containers are walked up to [`Walker::max_depth`] levels below the input;
//!   a deeper one is an error at the member's path, never a recursion;
//! - **limits**: every container is read with the same [`Limits`] (one package budget, one
//!   memory budget per input), and every member handed out takes one record from
//!   [`Limits::records`], so a table of millions of tiny or overlapping members stops with a
//!   named limit instead of exhausting memory downstream;
//! - **names**: each member's name is checked once ([`Member::safe_components`], through
//!   [`crate::safe_name`]); ZIP members whose names are unsafe are errors and are not handed
//!   out (a download whose entry is `../../x.msu` is hostile, not a package); a name that
//!   repeats an earlier member's name in the same container (compared as Windows would, ASCII
//!   case-insensitively with `/` and `\` alike) is reported as `duplicate_member_name`, and
//!   both members are still handed out — nothing is silently dropped.
//!
//! The hooks follow ripgrep's `grep-searcher` `Sink`: each may stop the walk ([`Flow::Stop`]).
//! Errors arrive in the order a reader meets them: per-member CAB errors after the members of
//! their cabinet (the cabinet reader reports them when its folders are done), ZIP errors per
//! entry, then [`Sink::leave`].

use std::collections::BTreeMap;

use crate::cab::{CabError, Cabinet, FileEntry};
use crate::limits::{self, Limits};
use crate::safe_name::{relative_components, UnsafeName};
use crate::source::Source;
use crate::zip::{ZipArchive, ZipEntry, ZipError};
use crate::{sniff, Magic, NestedPath};

/// What a hook wants the walk to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on (and, from [`Sink::member`], do not descend into this member).
    Continue,
    /// From [`Sink::member`]: walk this member as a container (ignored when it is not one).
    Descend,
    /// End the whole walk now.
    Stop,
}

/// Which container format a [`Container`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cab,
    Zip,
}

/// A container about to be walked, or just walked ([`Sink::leave`]).
pub struct Container<'c, 'a> {
    pub path: &'c NestedPath,
    /// 0 for the input itself, one more per nesting level.
    pub depth: u32,
    pub kind: Kind,
    pub source: Source<'a>,
    /// The parsed tables of a CAB (member names, folders); `None` for a ZIP.
    pub cab: Option<&'c Cabinet<'a>>,
    /// The format of the container this one is a member of; `None` for the input.
    pub parent: Option<Kind>,
}

/// One member with its bytes.
pub struct Member<'m> {
    /// The container's path plus this member's name.
    pub path: &'m NestedPath,
    /// The name as stored (decoded to text; `..`, drive letters and all).
    pub name: &'m str,
    /// Whether `name` is exactly the stored name. A ZIP name whose bytes are not valid UTF-8
    /// under the UTF-8 flag is shown with `\x{hh}` escapes: fine to report, but not a name
    /// to create (the escape's backslash would read as a separator).
    pub name_exact: bool,
    /// Position in the container's table.
    pub index: usize,
    /// Depth of the container holding this member.
    pub depth: u32,
    pub parent: Kind,
    pub data: Source<'m>,
    /// What the first bytes say this member is.
    pub magic: Magic,
    /// The CFFILE entry, for CAB members.
    pub cab_entry: Option<&'m FileEntry>,
}

impl Member<'_> {
    /// The name as relative path components that are safe to create under a directory,
    /// or why not ([`crate::safe_name::relative_components`]).
    pub fn safe_components(&self) -> Result<Vec<String>, UnsafeName> {
        if !self.name_exact {
            return Err(UnsafeName::NotExact);
        }
        relative_components(self.name)
    }

    /// Whether this member is a container the walker can descend into.
    pub fn is_container(&self) -> bool {
        matches!(self.magic, Magic::Cab | Magic::Zip)
    }
}

/// Why part of a walk failed. `path` names the container or member.
#[derive(Debug)]
pub struct WalkError {
    pub path: NestedPath,
    pub issue: Issue,
}

/// The kinds of [`WalkError`].
#[derive(Debug, thiserror::Error)]
pub enum Issue {
    /// The cabinet's tables are unreadable (`path` is the container); nothing was walked.
    #[error("cannot read cabinet: {0}")]
    CabUnreadable(#[source] CabError),
    /// One member of a cabinet could not be read (`path` is the member).
    #[error("{0}")]
    CabMember(#[source] CabError),
    /// The ZIP is unreadable, or a limit for the whole archive stopped it (`path` is the
    /// container).
    #[error("cannot read ZIP: {0}")]
    ZipUnreadable(#[source] ZipError),
    /// One entry of a ZIP could not be read (`path` is the member).
    #[error("{0}")]
    ZipMember(#[source] ZipError),
    /// A ZIP member name that could escape a directory or mean something else on Windows.
    #[error("ZIP member name rejected: {0}")]
    UnsafeZipName(UnsafeName),
    /// The member repeats the name of an earlier member of the same container.
    #[error("member {index} has the same name as member {first} ({first_name:?}); both are read")]
    DuplicateName {
        index: usize,
        first: usize,
        first_name: String,
    },
    /// A container member deeper than the nesting limit (`path` is the member).
    #[error("containers nest deeper than the limit of {max} (max_depth)")]
    TooDeep { max: u32 },
    /// The input's record budget ([`Limits::records`]) is spent; the walk stops.
    #[error(
        "limit {} exceeded: more than {max} members in one input",
        limits::LIMIT_RECORDS
    )]
    TooManyRecords { max: u64 },
}

impl Issue {
    /// Stable snake_case identifier of the issue (for limit and container errors, the
    /// reader's own kind).
    pub fn kind(&self) -> &'static str {
        match self {
            Issue::CabUnreadable(e) | Issue::CabMember(e) => e.kind(),
            Issue::ZipUnreadable(e) | Issue::ZipMember(e) => e.kind(),
            Issue::UnsafeZipName(_) => "unsafe_member_name",
            Issue::DuplicateName { .. } => "duplicate_member_name",
            Issue::TooDeep { .. } => "limit_nesting_depth",
            Issue::TooManyRecords { .. } => "limit_records",
        }
    }
}

/// What a consumer of a walk implements. Only [`Sink::member`] and [`Sink::error`] are
/// required.
pub trait Sink {
    /// A container's tables have been read and its members are about to be walked.
    /// [`Flow::Descend`] means the same as [`Flow::Continue`]; `Stop` ends the walk (and
    /// [`Sink::leave`] is not called for it).
    fn enter(&mut self, _c: &Container<'_, '_>) -> Flow {
        Flow::Continue
    }

    /// One member with its bytes. Return [`Flow::Descend`] to walk it as a container.
    fn member(&mut self, m: &Member<'_>) -> Flow;

    /// Runs `walk`, which walks the member `m` as a container. The default just runs it;
    /// override to run work beside it (the scan engine hashes the member's bytes on another
    /// thread meanwhile) or around it (`extract` sets the output folder).
    fn nested<F>(&mut self, _m: &Member<'_>, walk: F) -> Flow
    where
        Self: Sized,
        F: FnOnce(&mut Self) -> Flow + Send,
    {
        walk(self)
    }

    /// The container entered last has been walked, errors included.
    fn leave(&mut self, _c: &Container<'_, '_>) {}

    /// Something could not be read. Return `Stop` to end the walk.
    fn error(&mut self, e: WalkError) -> Flow;
}

/// Walks containers for one input. Cheap to clone; holds only settings.
#[derive(Debug, Clone)]
pub struct Walker {
    pub limits: Limits,
    /// Containers nested deeper than this below the input are not walked.
    pub max_depth: u32,
}

impl Walker {
    pub fn new(limits: Limits, max_depth: u32) -> Self {
        Walker { limits, max_depth }
    }

    /// Walks `src` (a CAB or ZIP, by signature) named `path` at nesting `depth`. Anything else
    /// is not walked; the caller decides what it is. Returns `Stop` when a hook stopped it.
    pub fn walk<S: Sink>(
        &self,
        src: Source<'_>,
        path: &NestedPath,
        depth: u32,
        sink: &mut S,
    ) -> Flow {
        self.container(src, path, depth, None, sink)
    }

    fn container<S: Sink>(
        &self,
        src: Source<'_>,
        path: &NestedPath,
        depth: u32,
        parent: Option<Kind>,
        sink: &mut S,
    ) -> Flow {
        let head = match src.read_upto(0, 8) {
            Ok(h) => h,
            Err(e) => {
                let err = CabError::Io {
                    offset: 0,
                    reason: e.to_string(),
                };
                return sink.error(WalkError {
                    path: path.clone(),
                    issue: Issue::CabUnreadable(err),
                });
            }
        };
        match sniff(&head) {
            Magic::Zip => self.zip(src, path, depth, parent, sink),
            Magic::Cab => self.cab(src, path, depth, parent, sink),
            _ => Flow::Continue,
        }
    }

    fn cab<S: Sink>(
        &self,
        src: Source<'_>,
        path: &NestedPath,
        depth: u32,
        parent: Option<Kind>,
        sink: &mut S,
    ) -> Flow {
        let cab = match Cabinet::parse_source(src, &self.limits) {
            Ok(c) => c,
            Err(e) => {
                return sink.error(WalkError {
                    path: path.clone(),
                    issue: Issue::CabUnreadable(e),
                })
            }
        };
        let c = Container {
            path,
            depth,
            kind: Kind::Cab,
            source: src,
            cab: Some(&cab),
            parent,
        };
        if sink.enter(&c) == Flow::Stop {
            return Flow::Stop;
        }
        let mut names = Names::default();
        let mut flow = Flow::Continue;
        let report = cab.walk_until(&mut |index, entry: &FileEntry, data: Source<'_>| {
            let child = path.child(&entry.name);
            let m = Member {
                path: &child,
                name: &entry.name,
                name_exact: true,
                index,
                depth,
                parent: Kind::Cab,
                data,
                magic: magic_of(data),
                cab_entry: Some(entry),
            };
            flow = self.member(&m, &mut names, sink);
            flow != Flow::Stop
        });
        if flow == Flow::Stop {
            return Flow::Stop;
        }
        for (i, e) in report.errors {
            let name = cab.files.get(i).map_or("?", |f| f.name.as_str());
            let issue = Issue::CabMember(e);
            if stops(sink, path.child(name), issue) {
                return Flow::Stop;
            }
        }
        sink.leave(&c);
        Flow::Continue
    }

    fn zip<S: Sink>(
        &self,
        src: Source<'_>,
        path: &NestedPath,
        depth: u32,
        parent: Option<Kind>,
        sink: &mut S,
    ) -> Flow {
        let c = Container {
            path,
            depth,
            kind: Kind::Zip,
            source: src,
            cab: None,
            parent,
        };
        if sink.enter(&c) == Flow::Stop {
            return Flow::Stop;
        }
        let zip = match ZipArchive::parse(src, &self.limits) {
            Ok(z) => z,
            Err(e) => {
                return match sink.error(WalkError {
                    path: path.clone(),
                    issue: Issue::ZipUnreadable(e),
                }) {
                    Flow::Stop => Flow::Stop,
                    _ => Flow::Continue,
                }
            }
        };
        let mut names = Names::default();
        let mut reader = zip.reader();
        for entry in &zip.entries {
            if entry.is_dir {
                continue;
            }
            let child = path.child(&entry.name);
            let data = match reader.read(entry.index) {
                Ok(d) => d,
                Err(e) => {
                    // A container-wide limit ends the archive: the entry says where, the
                    // container says why the rest is not read.
                    let ends = e.ends_container().then(|| e.copy_limit()).flatten();
                    if stops(sink, child, Issue::ZipMember(e)) {
                        return Flow::Stop;
                    }
                    if let Some(stop) = ends {
                        if stops(sink, path.clone(), Issue::ZipUnreadable(stop)) {
                            return Flow::Stop;
                        }
                        break;
                    }
                    continue;
                }
            };
            if let Err(why) = relative_components(&entry.name) {
                if stops(sink, child, Issue::UnsafeZipName(why)) {
                    return Flow::Stop;
                }
                continue;
            }
            let m = Member {
                path: &child,
                name: &entry.name,
                name_exact: name_is_exact(entry),
                index: entry.index,
                depth,
                parent: Kind::Zip,
                data,
                magic: magic_of(data),
                cab_entry: None,
            };
            if self.member(&m, &mut names, sink) == Flow::Stop {
                return Flow::Stop;
            }
        }
        sink.leave(&c);
        Flow::Continue
    }

    /// Hands one member to the sink, then walks it when the sink asks and the depth allows.
    fn member<S: Sink>(&self, m: &Member<'_>, names: &mut Names, sink: &mut S) -> Flow {
        if let Some(budget) = &self.limits.records {
            if budget.take(1).is_err() {
                sink.error(WalkError {
                    path: m.path.clone(),
                    issue: Issue::TooManyRecords { max: budget.max() },
                });
                return Flow::Stop;
            }
        }
        if let Some((first, first_name)) = names.seen(m.index, m.name) {
            let issue = Issue::DuplicateName {
                index: m.index,
                first,
                first_name,
            };
            if stops(sink, m.path.clone(), issue) {
                return Flow::Stop;
            }
        }
        match sink.member(m) {
            Flow::Descend if m.is_container() => {}
            Flow::Stop => return Flow::Stop,
            _ => return Flow::Continue,
        }
        if m.depth + 1 > self.max_depth {
            return sink.error(WalkError {
                path: m.path.clone(),
                issue: Issue::TooDeep {
                    max: self.max_depth,
                },
            });
        }
        let (data, path, depth, parent) = (m.data, m.path, m.depth + 1, Some(m.parent));
        sink.nested(m, move |s: &mut S| {
            self.container(data, path, depth, parent, s)
        })
    }
}

/// Whether a ZIP entry's text name is its stored name: UTF-8 that needed no escape, or a
/// code page 437 decode (one character per byte, as the format defines it).
fn name_is_exact(e: &ZipEntry) -> bool {
    match std::str::from_utf8(&e.name_raw) {
        Ok(s) => s == e.name,
        Err(_) => !e.name_is_utf8,
    }
}

/// Reports an error; whether the sink asked to stop.
fn stops<S: Sink>(sink: &mut S, path: NestedPath, issue: Issue) -> bool {
    sink.error(WalkError { path, issue }) == Flow::Stop
}

fn magic_of(src: Source<'_>) -> Magic {
    match src.read_upto(0, 8) {
        Ok(head) => sniff(&head),
        Err(_) => Magic::Unknown,
    }
}

/// Member names seen in one container, as Windows would compare them.
#[derive(Default)]
struct Names(BTreeMap<String, (usize, String)>);

impl Names {
    /// The first member with the same name, if any (and records this one otherwise).
    fn seen(&mut self, index: usize, name: &str) -> Option<(usize, String)> {
        let key = name.replace('/', "\\").to_ascii_lowercase();
        match self.0.get(&key) {
            Some((first, first_name)) => Some((*first, first_name.clone())),
            None => {
                self.0.insert(key, (index, name.to_string()));
                None
            }
        }
    }
}
