//! Layers stacked into one filesystem view, as an overlay mount sees them,
//! restricted to the files the indexes recorded.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{FileRecord, LayerIndex, path};

/// The visible recorded files after applying layers bottom-up: path → (index
/// of the layer that wrote it, its record).
#[derive(Debug, Default)]
pub(crate) struct FsView<'a> {
    files: BTreeMap<&'a str, (usize, &'a FileRecord)>,
}

impl<'a> FsView<'a> {
    /// Puts `index` (the layer numbered `layer`) on top.
    ///
    /// OCI image spec, "Whiteouts": a whiteout or opaque marker applies only to
    /// the layers below it; files of the same layer stay visible. So the
    /// markers go first, then the layer's own files replace any lower file at
    /// the same path.
    pub(crate) fn apply(&mut self, layer: usize, index: &'a LayerIndex) {
        for dir in &index.opaque_dirs {
            self.remove_below(dir);
        }
        for gone in &index.whiteouts {
            self.files.remove(gone.as_str());
            self.remove_below(gone);
        }
        for (p, record) in &index.files {
            self.files.insert(p.as_str(), (layer, record));
        }
    }

    /// Removes everything strictly below directory `dir` (`""`: the root).
    fn remove_below(&mut self, dir: &str) {
        if dir.is_empty() {
            self.files.clear();
            return;
        }
        let prefix = format!("{dir}/");
        let doomed: Vec<&'a str> = self
            .files
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .map(|(p, _)| *p)
            .take_while(|p| p.starts_with(&prefix))
            .collect();
        for p in doomed {
            debug_assert!(path::is_under(p, dir));
            self.files.remove(p);
        }
    }

    /// The visible record at `path`.
    pub(crate) fn get(&self, path: &str) -> Option<&'a FileRecord> {
        self.files.get(path).map(|(_, record)| *record)
    }

    /// Visible records in path order: (path, layer, record).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, usize, &'a FileRecord)> + '_ {
        self.files.iter().map(|(p, (layer, record))| (*p, *layer, *record))
    }
}
