//! Entries no cataloger reads by path: executables, cataloged by content
//! ([`catalog::binary`]), and hard links to them.

use std::io::Read;

use super::{EntryError, FileRecord, LayerError, Walker, path};
use crate::catalog::{self, Facts};

impl Walker<'_> {
    /// Records an unclassified entry if it is a binary with cataloged content
    /// (or a hard link to one indexed earlier in the layer); else nothing.
    pub(super) fn unclassified<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: String,
        entry_type: tar::EntryType,
        size: u64,
        raw_link: Option<Vec<u8>>,
    ) -> Result<(), EntryError> {
        let record = if entry_type.is_file() || entry_type.is_contiguous() {
            let mode = entry.header().mode().unwrap_or(0);
            if !catalog::binary::is_candidate(mode, size) {
                return Ok(());
            }
            match catalog::binary::read(entry, size, self.limits.max_binary_bytes)? {
                None => return Ok(()),
                Some(Ok(facts)) => FileRecord::Facts(facts),
                Some(Err(reason)) => FileRecord::Unparsed { reason },
            }
        } else if entry_type.is_hard_link() {
            let Ok(target) = path::normalize_entry_path(raw_link.as_deref().unwrap_or_default()) else {
                return Ok(());
            };
            match self.index.files.get(&target) {
                Some(record @ FileRecord::Facts(Facts::GoBinary(_) | Facts::RustBinary(_))) => record.clone(),
                _ => return Ok(()),
            }
        } else {
            return Ok(());
        };
        self.index.files.insert(path, record);
        if self.index.files.len() > self.limits.max_indexed_files {
            return Err(LayerError::TooManyIndexedFiles {
                limit: self.limits.max_indexed_files,
            }
            .into());
        }
        Ok(())
    }
}
