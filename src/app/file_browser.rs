//! The built-in file browser: what the file dialogs become on a desktop with no XDG portal file
//! chooser and no zenity. Folders, places (home, the usual user folders, recent ones, the file
//! system root), the kind's file filter in any letter case, a typed path, several files at once
//! where the kind allows, a file name for saves. Folders are listed on a short-lived thread, so a
//! slow disk never holds up the window.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, channel};

use eframe::egui;

use super::dialog_kind::DialogKind;
use super::i18n::{Lang, T};

/// Folders chosen from during this session, newest first.
static RECENT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
const RECENT_KEPT: usize = 6;

/// One listed folder or file.
#[derive(Clone, Debug)]
struct Entry {
    path: PathBuf,
    name: String,
    is_dir: bool,
}

enum Listing {
    Loading(Receiver<Result<Vec<Entry>, String>>),
    Ready(Vec<Entry>),
    Failed(String),
}

pub struct FileBrowser {
    kind: DialogKind,
    dir: PathBuf,
    /// The path field: where the user may type or paste any path.
    typed: String,
    /// The new file's name, for saves.
    file_name: String,
    listing: Listing,
    /// Selected entries (with whether each is a folder, so drawing never asks the disk).
    selected: Vec<Entry>,
    /// Places and recent folders, looked up once when the browser opens.
    places: Vec<(Option<T>, PathBuf)>,
    recent: Vec<PathBuf>,
    /// A short message under the list (a typed path that does not exist, …).
    problem: Option<T>,
    ctx: egui::Context,
    /// Set when the user has chosen (empty: cancelled).
    answer: Option<Vec<PathBuf>>,
    /// A save's file that already exists, waiting for the user to say it may be replaced.
    replacing: Option<PathBuf>,
}

impl FileBrowser {
    /// Opens at `start_dir` when it is a folder, else at home.
    pub fn open(ctx: &egui::Context, kind: DialogKind, start_dir: Option<PathBuf>) -> FileBrowser {
        let dir = start_dir.filter(|d| d.is_dir()).or_else(home).unwrap_or_else(|| PathBuf::from("/"));
        let mut browser = FileBrowser {
            kind,
            dir: dir.clone(),
            typed: String::new(),
            file_name: kind.suggested_name().to_string(),
            listing: Listing::Ready(Vec::new()),
            selected: Vec::new(),
            places: places(),
            recent: RECENT.lock().map(|r| r.iter().filter(|p| p.is_dir()).cloned().collect()).unwrap_or_default(),
            problem: None,
            ctx: ctx.clone(),
            answer: None,
            replacing: None,
        };
        browser.go_to(dir);
        browser
    }

    /// The kind and the chosen paths once the user has decided (empty: cancelled).
    pub fn take_answer(&mut self) -> Option<(DialogKind, Vec<PathBuf>)> {
        self.answer.take().map(|paths| (self.kind, paths))
    }

    fn go_to(&mut self, dir: PathBuf) {
        self.typed = dir.display().to_string();
        self.selected.clear();
        self.problem = None;
        self.dir = dir.clone();
        let (sender, receiver) = channel();
        let extensions = self.kind.extensions();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new().name("file-browser".to_string()).spawn(move || {
            let _ = sender.send(list_folder(&dir, extensions));
            ctx.request_repaint();
        });
        self.listing = match spawned {
            Ok(_) => Listing::Loading(receiver),
            Err(error) => Listing::Failed(error.to_string()),
        };
    }

    fn choose(&mut self, paths: Vec<PathBuf>) {
        let folder = paths.first().map(|p| if self.kind.is_folder() { p.clone() } else { parent_of(p) });
        if let (Some(folder), Ok(mut recent)) = (folder, RECENT.lock()) {
            recent.retain(|d| d != &folder);
            recent.insert(0, folder);
            recent.truncate(RECENT_KEPT);
        }
        self.answer = Some(paths);
    }

    /// A save to `path`: chosen at once when nothing is there, else asked about first.
    fn save_to(&mut self, path: PathBuf) {
        if path.exists() {
            self.replacing = Some(path);
        } else {
            self.choose(vec![path]);
        }
    }

    /// What the typed path asks for: a folder is opened, a file is chosen (or, for saves, a new
    /// file in an existing folder).
    fn follow_typed_path(&mut self) {
        let path = expand_home(self.typed.trim());
        if path.is_dir() {
            self.go_to(path);
        } else if self.kind.is_save() && path.parent().is_some_and(Path::is_dir) {
            self.save_to(path);
        } else if path.is_file() && !self.kind.is_folder() {
            self.choose(vec![path]);
        } else {
            self.problem = Some(T::BrowserNoSuchPath);
        }
    }

    pub fn ui(&mut self, ctx: &egui::Context, lang: Lang) {
        if let Listing::Loading(receiver) = &self.listing
            && let Ok(result) = receiver.try_recv()
        {
            self.listing = match result {
                Ok(entries) => Listing::Ready(entries),
                Err(reason) => Listing::Failed(reason),
            };
        }
        let mut open = true;
        egui::Window::new(title(self.kind).get(lang))
            .id(egui::Id::unique("file-browser"))
            .open(&mut open)
            .collapsible(false)
            .default_size([720.0, 460.0])
            .show(ctx, |ui| {
                self.path_row_ui(ui, lang);
                ui.separator();
                egui::Panel::bottom("file-browser-buttons").show(ui, |ui| self.buttons_ui(ui, lang));
                egui::Panel::left("file-browser-places").resizable(false).exact_size(150.0).show(ui, |ui| self.places_ui(ui, lang));
                egui::CentralPanel::default().show(ui, |ui| self.entries_ui(ui, lang));
            });
        if !open {
            self.answer = Some(Vec::new());
        }
    }

    fn path_row_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        ui.horizontal(|ui| {
            if ui.button(T::BrowserUp.get(lang)).clicked()
                && let Some(parent) = self.dir.parent()
            {
                self.go_to(parent.to_path_buf());
            }
            let label = ui.label(T::BrowserPath.get(lang));
            let field =
                ui.add(egui::TextEdit::singleline(&mut self.typed).desired_width(ui.available_width() - 60.0)).labelled_by(label.id);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if entered || ui.button(T::BrowserGo.get(lang)).clicked() {
                self.follow_typed_path();
            }
        });
    }

    fn places_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        ui.strong(T::BrowserPlaces.get(lang));
        let mut target = None;
        for (name, path) in &self.places {
            let text = name.map_or_else(|| short_name(path), |n| n.get(lang).to_string());
            if ui.selectable_label(&self.dir == path, text).on_hover_text(path.display().to_string()).clicked() {
                target = Some(path.clone());
            }
        }
        if !self.recent.is_empty() {
            ui.separator();
            ui.strong(T::BrowserRecent.get(lang));
            for path in &self.recent {
                if ui.selectable_label(&self.dir == path, short_name(path)).on_hover_text(path.display().to_string()).clicked() {
                    target = Some(path.clone());
                }
            }
        }
        if let Some(path) = target {
            self.go_to(path);
        }
    }

    fn entries_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let entries = match &self.listing {
            Listing::Loading(_) => {
                ui.spinner();
                return;
            }
            Listing::Failed(reason) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("{} {reason}", T::BrowserCannotList.get(lang)));
                return;
            }
            Listing::Ready(entries) => entries,
        };
        if entries.is_empty() {
            ui.weak(T::BrowserEmpty.get(lang));
        }
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        // What was clicked is noted while the list is drawn and acted on after it.
        let (mut double_clicked, mut clicked) = (None, None);
        egui::ScrollArea::vertical().auto_shrink([false, false]).show_rows(ui, row_height, entries.len(), |ui, rows| {
            for (index, entry) in entries.iter().enumerate().skip(rows.start).take(rows.len()) {
                let text = if entry.is_dir { format!("{}/", entry.name) } else { entry.name.clone() };
                let response = ui.selectable_label(self.selected.iter().any(|s| s.path == entry.path), text);
                if response.double_clicked() {
                    double_clicked = Some(entry.clone());
                } else if response.clicked() {
                    clicked = Some((index, ui.input(|i| i.modifiers.command || i.modifiers.shift)));
                }
            }
        });
        if let Some((index, add)) = clicked {
            let entry = entries[index].clone();
            self.select(entry, add);
        }
        match double_clicked {
            Some(entry) if entry.is_dir => self.go_to(entry.path),
            Some(entry) => self.choose(vec![entry.path]),
            None => {}
        }
        if let Some(problem) = self.problem {
            ui.colored_label(ui.visuals().warn_fg_color, problem.get(lang));
        }
    }

    fn select(&mut self, entry: Entry, add: bool) {
        self.typed = entry.path.display().to_string();
        if !entry.is_dir && self.kind.is_save() {
            self.file_name = entry.name.clone();
        }
        if !entry.is_dir && add && self.kind.is_multiple() {
            match self.selected.iter().position(|s| s.path == entry.path) {
                Some(index) => drop(self.selected.remove(index)),
                None => self.selected.push(entry),
            }
        } else {
            self.selected = vec![entry];
        }
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        if let Some(path) = self.replacing.clone() {
            // The file is there already: replace it only when the user says so.
            let name = short_name(&path);
            ui.colored_label(ui.visuals().warn_fg_color, crate::app::i18n::replace_existing(lang, &name));
            ui.horizontal(|ui| {
                if ui.button(T::BrowserReplace.get(lang)).clicked() {
                    self.replacing = None;
                    self.choose(vec![path]);
                }
                if ui.button(T::BrowserKeepExisting.get(lang)).clicked() {
                    self.replacing = None;
                }
            });
            return;
        }
        ui.horizontal(|ui| {
            if self.kind.is_save() {
                let label = ui.label(T::BrowserFileName.get(lang));
                ui.add(egui::TextEdit::singleline(&mut self.file_name).desired_width(220.0)).labelled_by(label.id);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let files: Vec<PathBuf> = self.selected.iter().filter(|s| !s.is_dir).map(|s| s.path.clone()).collect();
                let folder = self.selected.first().filter(|s| s.is_dir).map(|s| s.path.clone());
                let (confirm, ready) = match self.kind {
                    kind if kind.is_folder() => (T::BrowserChooseFolder, true),
                    kind if kind.is_save() => (T::Save, !self.file_name.trim().is_empty()),
                    _ => (T::BrowserOpen, !files.is_empty() || folder.is_some()),
                };
                if ui.add_enabled(ready, egui::Button::new(confirm.get(lang))).clicked() {
                    match (self.kind, folder) {
                        // The selected sub-folder, else the folder on show.
                        (kind, folder) if kind.is_folder() => self.choose(vec![folder.unwrap_or_else(|| self.dir.clone())]),
                        // A selected folder opens, as in the desktop's dialogs.
                        (_, Some(folder)) => self.go_to(folder),
                        (kind, None) if kind.is_save() => self.save_to(self.dir.join(self.file_name.trim())),
                        (_, None) => self.choose(files),
                    }
                }
                if ui.button(T::Cancel.get(lang)).clicked() {
                    self.answer = Some(Vec::new());
                }
                if self.kind.is_multiple() {
                    ui.weak(T::BrowserMultipleHint.get(lang));
                }
            });
        });
    }
}

/// The folder's sub-folders and the files the filter admits (extensions in any case), hidden
/// ones left out; folders first, then by name.
fn list_folder(dir: &Path, extensions: Option<&[&str]>) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // `metadata` follows links, so a linked folder opens like a folder.
        let is_dir = path.metadata().is_ok_and(|m| m.is_dir());
        let admitted = match extensions {
            _ if is_dir => true,
            None => false,
            Some(extensions) => {
                path.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
            }
        };
        if admitted {
            entries.push(Entry { path, name, is_dir });
        }
    }
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
    Ok(entries)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_dir())
}

/// Home, the usual user folders that exist (English or Chinese names), and the root.
fn places() -> Vec<(Option<T>, PathBuf)> {
    let mut places = Vec::new();
    if let Some(home) = home() {
        places.push((Some(T::BrowserHome), home.clone()));
        for name in ["Desktop", "桌面", "Pictures", "图片", "Downloads", "下载", "Documents", "文档"] {
            let path = home.join(name);
            if path.is_dir() {
                places.push((None, path));
            }
        }
    }
    places.push((Some(T::BrowserRoot), PathBuf::from("/")));
    places
}

fn short_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent().map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// `~` and `~/…` as the home folder, as people type them.
fn expand_home(typed: &str) -> PathBuf {
    match (typed.strip_prefix('~'), home()) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => home.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(typed),
    }
}

fn title(kind: DialogKind) -> T {
    match kind {
        DialogKind::OpenImage => T::BrowserTitleImage,
        DialogKind::PlaceImage => T::BrowserTitlePlace,
        DialogKind::OpenCheckpoint | DialogKind::ResumeCheckpoint => T::BrowserTitleCheckpoint,
        DialogKind::ImportNetwork => T::BrowserTitleImportNetwork,
        DialogKind::OpenDescriptions => T::BrowserTitleDescriptions,
        DialogKind::PickDataFolder | DialogKind::PickAtlasFolder | DialogKind::PickMistakesFolder => T::BrowserTitleFolder,
        DialogKind::PickRunFolder => T::BrowserTitleRunFolder,
        DialogKind::OpenTimeline => T::BrowserTitleTimeline,
        DialogKind::OpenAtlas => T::BrowserTitleAtlas,
        DialogKind::OpenFlowersArchive => T::BrowserTitleArchive,
        DialogKind::ExportSelection => T::BrowserTitleSaveSelection,
        DialogKind::PickCopyFolder => T::BrowserTitleCopyFolder,
        DialogKind::ExportPng | DialogKind::ExportAtlasView | DialogKind::ExportAtlasWhole | DialogKind::ExportTimeline => {
            T::BrowserTitleSave
        }
    }
}
