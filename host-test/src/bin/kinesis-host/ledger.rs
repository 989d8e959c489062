//! Which events some target has not settled yet, in input order: the first
//! of them is where a checkpoint points. With dead letters it also keeps
//! each event's data until every target settled it, so that a failure can
//! be written out as the input line it came from.

use crate::input::{Chunk, Position, Source};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

struct Entry {
    id: u64,
    source: Option<Arc<Source>>,
    /// Byte offset of its line.
    offset: u64,
    /// Targets that have not settled it.
    remaining: u32,
    /// Settled by a target without an outcome that counts (the run was cut
    /// short): the checkpoint stays at it, so the next run sends it again.
    held: bool,
    data: Vec<u8>,
}

/// A place in the input: a line's start.
#[derive(Debug, Clone)]
pub struct Mark {
    pub source: Arc<Source>,
    pub offset: u64,
    /// 1-based line number in the source.
    pub line: u64,
}

pub struct Ledger {
    entries: VecDeque<Entry>,
    targets: u32,
    keep_data: bool,
    /// Where reading stands after the last chunk pushed.
    read: Option<Mark>,
    /// The newest identity of each source generation (a followed file's
    /// head is hashed again while it is short).
    sources: BTreeMap<u32, Arc<Source>>,
}

impl Ledger {
    pub fn new(targets: usize, keep_data: bool) -> Self {
        Self {
            entries: VecDeque::new(),
            targets: targets as u32,
            keep_data,
            read: None,
            sources: BTreeMap::new(),
        }
    }

    fn note_source(&mut self, source: &Arc<Source>) {
        self.sources.insert(source.generation, source.clone());
    }

    /// Events about to be pushed to every target (settled only once added).
    pub fn add(&mut self, chunk: &Chunk) {
        let source = chunk.end.source.clone();
        for ((id, data), &offset) in chunk.events.iter().zip(&chunk.offsets) {
            self.entries.push_back(Entry {
                id,
                source: source.clone(),
                offset,
                remaining: self.targets,
                held: false,
                data: if self.keep_data { data.to_vec() } else { Vec::new() },
            });
        }
        self.moved(&chunk.end);
    }

    /// Reading went on to `pos`.
    pub fn moved(&mut self, pos: &Position) {
        if let Some(source) = &pos.source {
            self.note_source(source);
            self.read = Some(Mark {
                source: source.clone(),
                offset: pos.offset,
                line: pos.line,
            });
        }
    }

    /// The data of an event not settled by every target yet.
    pub fn data(&self, id: u64) -> Option<&[u8]> {
        self.find(id).map(|i| self.entries[i].data.as_slice())
    }

    /// The event's line in its file and that file, when known.
    pub fn line_of(&self, id: u64) -> Option<(u64, &Source)> {
        let e = &self.entries[self.find(id)?];
        let source = e.source.as_deref()?;
        Some((id - source.id_base, source))
    }

    fn find(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// One target settled `id`; `hold`: without an outcome that counts.
    pub fn settle(&mut self, id: u64, hold: bool) {
        if let Some(i) = self.find(id) {
            let e = &mut self.entries[i];
            e.remaining = e.remaining.saturating_sub(1);
            e.held |= hold;
        }
        while self.entries.front().is_some_and(|e| e.remaining == 0 && !e.held) {
            self.entries.pop_front();
        }
    }

    /// Where a run may resume without losing an event: the first line not
    /// settled by every target, else where reading stands.
    pub fn mark(&self) -> Option<Mark> {
        match self.entries.front() {
            Some(e) => {
                let source = e.source.as_ref()?;
                let source = self.sources.get(&source.generation).unwrap_or(source).clone();
                Some(Mark {
                    line: e.id - source.id_base,
                    source,
                    offset: e.offset,
                })
            }
            None => self.read.clone(),
        }
    }

    /// Events some target has not settled, counting held ones.
    pub fn open(&self) -> usize {
        self.entries.len()
    }
}
