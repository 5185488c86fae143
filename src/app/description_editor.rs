//! The description editor: every class of the model in use, with a picture of it from the folder
//! it was trained on, its Chinese and English names and introductions. Saved as a description
//! file in the user's data folder (shipped files stay as they are), matched to the model by its
//! class ids, and found again the next time the model is loaded.

use std::path::{Path, PathBuf};

use eframe::egui;

use super::context::{AppAction, AppContext};
use super::i18n::{Lang, T};
use super::path_label::path_label;
use crate::descriptions::{DescriptionFile, DescriptionSet};
use crate::worker::{Job, JobId, ModelJob, Picture};

pub struct DescriptionEditor {
    /// The file as it will be saved: what the file it started from held, with an entry added
    /// for each of the model's classes it lacked.
    pub file: DescriptionFile,
    /// The model's class ids, in its order.
    pub class_ids: Vec<String>,
    /// The class being edited (index into `class_ids`).
    pub selected: usize,
    /// Where Save writes: the user's own file (a shipped one is copied to the user's folder).
    pub target: PathBuf,
    /// A picture per class once the worker has read them (None: not found).
    samples: Vec<Option<egui::TextureHandle>>,
    pub samples_job: Option<JobId>,
}

impl DescriptionEditor {
    /// An editor for all of `class_ids`, starting from `existing` where it describes them, with
    /// `select` open. Asks the worker for a picture of each class from `data_dir`.
    pub fn open(
        class_ids: &[String],
        existing: Option<&DescriptionSet>,
        select: &str,
        data_dir: Option<&Path>,
        cx: &mut AppContext,
    ) -> Self {
        let mut file = existing.map(|set| set.file.clone()).unwrap_or_default();
        for id in class_ids {
            file.entry_mut(id);
        }
        let target = match existing {
            Some(existing) if existing.coverage(class_ids) > 0 => user_copy_path(existing, cx.user_descriptions),
            _ => new_description_path(cx.user_descriptions, class_ids, data_dir),
        };
        if file.name.is_empty() {
            file.name = target.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        let samples_job = data_dir
            .filter(|dir| dir.is_dir())
            .and_then(|dir| cx.submit(Job::Model(ModelJob::ClassSamples { dir: dir.to_path_buf(), class_names: class_ids.to_vec() })));
        DescriptionEditor {
            file,
            class_ids: class_ids.to_vec(),
            selected: class_ids.iter().position(|id| id == select).unwrap_or(0),
            target,
            samples: vec![None; class_ids.len()],
            samples_job,
        }
    }

    /// The pictures of the classes, from the worker.
    pub fn samples_read(&mut self, ctx: &egui::Context, samples: Vec<Option<Picture>>) {
        self.samples = samples
            .into_iter()
            .enumerate()
            .map(|(i, picture)| {
                picture.map(|p| {
                    let image = egui::ColorImage::from_rgba_unmultiplied([p.width, p.height], &p.rgba);
                    ctx.load_texture(format!("class-sample-{i}"), image, egui::TextureOptions::LINEAR)
                })
            })
            .collect();
        self.samples.resize(self.class_ids.len(), None);
    }

    /// How many classes have a picture from the training folder.
    pub fn class_pictures(&self) -> usize {
        self.samples.iter().flatten().count()
    }

    fn entry_index(&self, class: usize) -> Option<usize> {
        let id = self.class_ids.get(class)?;
        self.file.classes.iter().position(|entry| &entry.id == id)
    }

    /// Classes with at least a name or an introduction.
    fn described(&self) -> usize {
        (0..self.class_ids.len())
            .filter_map(|class| self.entry_index(class))
            .filter(|&i| {
                let entry = &self.file.classes[i];
                [&entry.name_zh, &entry.name_en, &entry.intro_zh, &entry.intro_en].iter().any(|text| !text.trim().is_empty())
            })
            .count()
    }

    /// Draws the editor; returns false once it is closed. Save asks the shell to write the file;
    /// the shell closes the editor once it is written, so a failed save keeps the user's text.
    pub fn ui(&mut self, ctx: &egui::Context, cx: &mut AppContext) -> bool {
        let lang = cx.lang;
        let (mut save, mut close) = (false, false);
        egui::Window::new(T::DescribeClasses.get(lang))
            .id(egui::Id::unique("description-editor"))
            .collapsible(false)
            .default_width(760.0)
            .max_height(ctx.content_rect().height() - 60.0)
            .show(ctx, |ui| {
                // Save and Close stay at the top, in view however many classes there are.
                ui.horizontal(|ui| {
                    save = ui.button(T::Save.get(lang)).clicked();
                    close = ui.button(T::Close.get(lang)).clicked();
                    ui.label(format!("{} {}/{}", T::ClassesDescribed.get(lang), self.described(), self.class_ids.len()));
                });
                path_label(ui, T::SavedTo.get(lang), &self.target);
                ui.separator();
                ui.horizontal_top(|ui| {
                    self.class_list_ui(ui, lang);
                    ui.add_space(12.0);
                    ui.vertical(|ui| self.class_form_ui(ui, lang));
                });
            });
        if save {
            cx.actions.push(AppAction::SaveDescriptions { file: self.file.clone(), path: self.target.clone() });
        }
        !close
    }

    fn class_list_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        ui.vertical(|ui| {
            ui.set_width(230.0);
            egui::ScrollArea::vertical().id_salt("described-classes").max_height(420.0).show(ui, |ui| {
                for class in 0..self.class_ids.len() {
                    let id = &self.class_ids[class];
                    let name = self.entry_index(class).map(|i| &self.file.classes[i]).map(|entry| match lang {
                        Lang::Zh if !entry.name_zh.is_empty() => entry.name_zh.clone(),
                        _ if !entry.name_en.is_empty() => entry.name_en.clone(),
                        _ => String::new(),
                    });
                    ui.horizontal(|ui| {
                        // Decorative: the class is named right beside it.
                        if let Some(Some(texture)) = self.samples.get(class) {
                            ui.add(egui::Image::new((texture.id(), egui::vec2(32.0, 32.0))));
                        }
                        let text = match name.filter(|n| !n.is_empty()) {
                            Some(name) => format!("{name} ({id})"),
                            None => id.clone(),
                        };
                        if ui.selectable_label(self.selected == class, text).clicked() {
                            self.selected = class;
                        }
                    });
                }
            });
        });
    }

    fn class_form_ui(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let Some(id) = self.class_ids.get(self.selected).cloned() else { return };
        ui.horizontal(|ui| {
            if let Some(Some(texture)) = self.samples.get(self.selected) {
                ui.add(egui::Image::new((texture.id(), egui::vec2(100.0, 100.0))));
            }
            ui.label(egui::RichText::new(format!("{}: {id}", T::ClassId.get(lang))).strong());
        });
        let Some(index) = self.entry_index(self.selected) else { return };
        let entry = &mut self.file.classes[index];
        for (label, value, multiline) in [
            (T::ChineseName, &mut entry.name_zh, false),
            (T::EnglishName, &mut entry.name_en, false),
            (T::IntroZh, &mut entry.intro_zh, true),
            (T::IntroEn, &mut entry.intro_en, true),
        ] {
            let label = ui.label(label.get(lang));
            let edit = if multiline { egui::TextEdit::multiline(value).desired_rows(4) } else { egui::TextEdit::singleline(value) };
            ui.add(edit.desired_width(f32::INFINITY)).labelled_by(label.id);
        }
    }
}

/// Shipped description files are not edited in place: edits go to a copy in the user's folder.
fn user_copy_path(set: &DescriptionSet, user_dir: &Path) -> PathBuf {
    let shipped = crate::resources::descriptions_dir();
    let is_shipped = shipped.as_ref().is_some_and(|dir| set.path.starts_with(dir));
    if !is_shipped {
        return set.path.clone();
    }
    let name = set.path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "descriptions.toml".into());
    user_dir.join(name)
}

/// A new description file in `dir` named after the data set (else "my-classes"), not taken by
/// a file for other classes.
fn new_description_path(dir: &Path, class_ids: &[String], data_dir: Option<&Path>) -> PathBuf {
    let stem = data_dir
        .and_then(|d| d.file_name())
        .map(|name| name.to_string_lossy().chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect())
        .map(|name: String| name.trim_matches('-').to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "my-classes".to_string());
    for n in 1.. {
        let name = if n == 1 { format!("{stem}.toml") } else { format!("{stem}-{n}.toml") };
        let path = dir.join(name);
        // A file already there is only reused when it is about these classes.
        let free = !path.exists() || DescriptionSet::load(&path).is_ok_and(|set| set.coverage(class_ids) > 0);
        if free {
            return path;
        }
    }
    unreachable!("some numbered name is free")
}
