//! Class descriptions: names in Chinese and English and a short introduction per class, shown
//! when the classifier names a class (the paper's `flower_dict` / `introduction_dict`).
//!
//! A description file is TOML (schema in `descriptions/README.md`):
//!
//! ```toml
//! name = "Oxford 17 flowers"
//! [[class]]
//! id = "daffodil"          # the class folder name the model was trained with
//! name_zh = "黄水仙"
//! name_en = "Daffodil"
//! intro_zh = "……"
//! intro_en = "..."
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::fsutil::write_atomically;

/// Description files larger than this are refused (17 classes take about 20 KB).
const MAX_DESCRIPTION_BYTES: u64 = 16 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassDescription {
    pub id: String,
    #[serde(default)]
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub intro_zh: String,
    #[serde(default)]
    pub intro_en: String,
}

impl ClassDescription {
    /// A class with no names or introductions yet.
    pub fn empty(class_id: &str) -> ClassDescription {
        ClassDescription {
            id: class_id.to_string(),
            name_zh: String::new(),
            name_en: String::new(),
            intro_zh: String::new(),
            intro_en: String::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DescriptionFile {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "class")]
    pub classes: Vec<ClassDescription>,
}

/// A description file and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct DescriptionSet {
    pub file: DescriptionFile,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl DescriptionSet {
    pub fn parse(text: &str, path: &Path) -> Result<DescriptionSet, DescriptionError> {
        let file: DescriptionFile = toml::from_str(text).map_err(|error| {
            let line = error.span().map_or(1, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            DescriptionError::Malformed { path: path.to_path_buf(), line, message: error.message().to_string() }
        })?;
        // An entry without an id cannot be matched to a class: report where it is.
        if let Some(index) = file.classes.iter().position(|class| class.id.trim().is_empty()) {
            let line = nth_class_table_line(text, index).unwrap_or(1);
            return Err(DescriptionError::Malformed {
                path: path.to_path_buf(),
                line,
                message: "a [[class]] entry has an empty id".to_string(),
            });
        }
        Ok(DescriptionSet { file, path: path.to_path_buf() })
    }

    pub fn load(path: &Path) -> Result<DescriptionSet, DescriptionError> {
        let text = crate::engine::fsutil::read_user_text(path, MAX_DESCRIPTION_BYTES)
            .map_err(|source| DescriptionError::Read { path: path.to_path_buf(), source })?;
        DescriptionSet::parse(&text, path)
    }

    /// Writes the set to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), DescriptionError> {
        let text = toml::to_string_pretty(&self.file).expect("descriptions serialise");
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| DescriptionError::Write { path: path.to_path_buf(), source })?;
        }
        write_atomically(path, text.as_bytes()).map_err(|source| DescriptionError::Write { path: path.to_path_buf(), source })
    }

    /// The entry for a class (by the model's class name), if any.
    pub fn get(&self, class_id: &str) -> Option<&ClassDescription> {
        self.file.classes.iter().find(|class| class.id == class_id)
    }

    /// The entry for a class, created empty if missing (for editing).
    pub fn entry_mut(&mut self, class_id: &str) -> &mut ClassDescription {
        self.file.entry_mut(class_id)
    }

    /// The class's name in Chinese (`chinese`) or English, where the file gives one.
    pub fn name_of(&self, class_id: &str, chinese: bool) -> Option<&str> {
        let entry = self.get(class_id)?;
        let name = if chinese { &entry.name_zh } else { &entry.name_en };
        Some(name.trim()).filter(|name| !name.is_empty())
    }

    /// A class's names for people, as the window and the command line both give them: (main,
    /// other). The main name is the description's name in the language asked for (`chinese`:
    /// Chinese); in English without an English name, and without a description, the class id.
    /// The other is the name in the other language, or empty.
    /// A class the set does not know (an atlas of a flower folder seen through an ImageNet
    /// network) is named from any shipped set that knows it.
    pub fn display_names(set: Option<&DescriptionSet>, class_id: &str, chinese: bool) -> (String, String) {
        let name = |chinese: bool| {
            set.and_then(|set| set.name_of(class_id, chinese))
                .or_else(|| shipped_sets().iter().find_map(|shipped| shipped.name_of(class_id, chinese)))
                .map(str::to_string)
        };
        let zh = name(true);
        let en = name(false).unwrap_or_else(|| class_id.to_string());
        match (chinese, zh) {
            (true, Some(zh)) => (zh, en),
            (false, Some(zh)) => (en, zh),
            (_, None) => (en, String::new()),
        }
    }

    /// How many of `class_names` this set describes.
    pub fn coverage(&self, class_names: &[String]) -> usize {
        class_names.iter().filter(|name| self.get(name).is_some()).count()
    }
}

/// The shipped description files, read once (a file that does not parse is left out here; it
/// is reported where a model's file is chosen).
fn shipped_sets() -> &'static [DescriptionSet] {
    static SETS: std::sync::OnceLock<Vec<DescriptionSet>> = std::sync::OnceLock::new();
    SETS.get_or_init(|| {
        let Some(dir) = crate::resources::descriptions_dir() else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        paths.iter().filter_map(|path| DescriptionSet::load(path).ok()).collect()
    })
}

/// Where description files are found: the user's own (written by the window's description
/// editor) first, then the shipped ones.
pub fn description_dirs() -> Vec<PathBuf> {
    std::iter::once(user_descriptions_dir()).chain(crate::resources::descriptions_dir()).collect()
}

/// The user's own description files: `~/.local/share/activation-atlas/user-descriptions`.
pub fn user_descriptions_dir() -> PathBuf {
    crate::resources::user_data_dir().join("user-descriptions")
}

/// The description file for `class_names` from the first of `dirs` that has one, and the
/// files that failed to parse on the way (for reporting).
pub fn find_for_classes(dirs: &[PathBuf], class_names: &[String]) -> (Option<DescriptionSet>, Vec<DescriptionError>) {
    let mut errors = Vec::new();
    for dir in dirs {
        let (found, mut failed) = find_matching(dir, class_names);
        errors.append(&mut failed);
        if found.is_some() {
            return (found, errors);
        }
    }
    (None, errors)
}

/// What a description file lacks for a model: its classes without an entry, entries for
/// classes the model does not have, and entries without both names.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DescriptionCheck {
    pub missing: Vec<String>,
    pub unknown: Vec<String>,
    pub incomplete: Vec<String>,
}

impl DescriptionSet {
    /// How this file fits a model with `class_names`.
    pub fn check(&self, class_names: &[String]) -> DescriptionCheck {
        let missing = class_names.iter().filter(|id| self.get(id).is_none()).cloned().collect();
        let unknown = self.file.classes.iter().filter(|c| !class_names.contains(&c.id)).map(|c| c.id.clone()).collect();
        let incomplete = self
            .file
            .classes
            .iter()
            .filter(|c| class_names.contains(&c.id) && (c.name_zh.trim().is_empty() || c.name_en.trim().is_empty()))
            .map(|c| c.id.clone())
            .collect();
        DescriptionCheck { missing, unknown, incomplete }
    }
}

impl DescriptionFile {
    /// The entry for a class, created empty at the end if missing.
    pub fn entry_mut(&mut self, class_id: &str) -> &mut ClassDescription {
        if let Some(index) = self.classes.iter().position(|class| class.id == class_id) {
            return &mut self.classes[index];
        }
        self.classes.push(ClassDescription::empty(class_id));
        self.classes.last_mut().expect("just pushed")
    }

    /// A file with an empty entry for each of `class_names`, to fill in.
    pub fn template(name: &str, class_names: &[String]) -> DescriptionFile {
        DescriptionFile { name: name.to_string(), classes: class_names.iter().map(|id| ClassDescription::empty(id)).collect() }
    }
}

fn nth_class_table_line(text: &str, index: usize) -> Option<usize> {
    text.lines().enumerate().filter(|(_, line)| line.trim_start().starts_with("[[class]]")).nth(index).map(|(number, _)| number + 1)
}

/// Among the `.toml` files in `dir`, the one describing the most of `class_names` (at least one).
/// Files that fail to parse are skipped; their errors are returned for reporting.
pub fn find_matching(dir: &Path, class_names: &[String]) -> (Option<DescriptionSet>, Vec<DescriptionError>) {
    let mut best: Option<(usize, DescriptionSet)> = None;
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return (None, errors) };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|entry| entry.ok().map(|e| e.path())).filter(|path| path.extension().is_some_and(|ext| ext == "toml")).collect();
    paths.sort();
    for path in paths {
        match DescriptionSet::load(&path) {
            Ok(set) => {
                let coverage = set.coverage(class_names);
                if coverage > 0 && best.as_ref().is_none_or(|(c, _)| coverage > *c) {
                    best = Some((coverage, set));
                }
            }
            Err(error) => errors.push(error),
        }
    }
    (best.map(|(_, set)| set), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_file_reports_its_line() {
        let text = "name = \"x\"\n[[class]]\nid = \"a\"\nname_zh = \"甲\n";
        let error = DescriptionSet::parse(text, Path::new("d.toml")).unwrap_err();
        let DescriptionError::Malformed { line, .. } = error else { panic!("expected Malformed") };
        assert_eq!(line, 4);
    }

    #[test]
    fn empty_id_reports_the_entry_line() {
        let text = "[[class]]\nid = \"a\"\n\n[[class]]\nid = \"\"\n";
        let error = DescriptionSet::parse(text, Path::new("d.toml")).unwrap_err();
        assert!(error.to_string().contains("line 4"), "{error}");
    }
}
