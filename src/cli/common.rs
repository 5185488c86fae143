//! What every command shares: the output mode, Ctrl-C, progress bars, reading data sets with a
//! report, `--layer` and class arguments, and the names classes are printed with.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::descriptions::DescriptionSet;
use crate::engine::data::{Dataset, Photos, StoredDataset, cache_dir, open_dataset_sized};
use crate::engine::model::Layer;
use crate::resources;

/// Where a command's words go. With `--json` stdout carries only JSON, so what is said for
/// people goes to stderr.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub json: bool,
}

/// A command that did part of its work: the result so far goes into the envelope beside the error.
#[derive(Debug)]
pub(super) struct PartlyDone {
    pub(super) result: serde_json::Value,
    pub(super) message: String,
}

impl std::fmt::Display for PartlyDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PartlyDone {}

/// `--names`: classes named as their description file names them.
#[derive(Args, Debug, Clone, Default)]
pub struct NamesArgs {
    /// Name classes by their description (Chinese where LANG is zh_*, else English) instead of
    /// their folder names.
    #[arg(long)]
    pub names: bool,
    /// The description file for --names (default: the one that matches the model, the user's
    /// own before the shipped ones).
    #[arg(long, value_name = "FILE", requires = "names")]
    pub descriptions: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Every image of the folder.
    All,
    /// The validation part of the split the model was trained with (its seed and fraction), for a
    /// model trained on this folder.
    Validation,
}

/// Set by Ctrl-C (SIGINT) while a command runs: long commands (loading a data set, training,
/// atlas builds, downloads, explanations) stop at their next check and say "cancelled".
pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells expect.
pub const INTERRUPTED_EXIT_CODE: u8 = 130;

/// Whether Ctrl-C stopped the command.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The first Ctrl-C asks the running command to stop cleanly (saved checkpoints stay, no half
/// files); a second one ends the process at once.
pub(super) fn stop_on_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            quit_now(i32::from(INTERRUPTED_EXIT_CODE));
        }
        eprintln!("\nstopping (Ctrl-C again to quit at once)");
    });
    // Without a handler Ctrl-C still ends the process, as before; nothing to stop for.
    let _ = installed;
}

/// Ends the process at once from the Ctrl-C thread. `std::process::exit` would run libtorch's
/// static destructors while other threads are still computing with it, which crashes (signal 11)
/// instead of exiting; `_exit` skips them. Saves are atomic, so nothing half-written is left.
fn quit_now(code: i32) -> ! {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::io::Write;
        let _ = std::io::stderr().flush();
        // SAFETY: `_exit` only ends the process; nothing of this process runs after it.
        unsafe { libc::_exit(code) }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    std::process::exit(code)
}

pub(super) fn weights_or_shipped(weights: Option<PathBuf>) -> Result<PathBuf> {
    match weights {
        Some(path) => Ok(path),
        None => resources::shipped_model().context("no --weights given and the shipped model (weights/flowers17.safetensors) is missing"),
    }
}

/// Loads a data set with a progress line on a terminal, and reports skipped files.
/// A progress bar on stderr with an estimate of the time left. indicatif draws it only on a
/// terminal, so piped or logged output stays plain lines.
pub(super) fn progress_bar(template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("#>."));
    }
    bar
}

/// What most bars show: a message, the bar, the count and the time left.
pub(super) const BAR: &str = "{msg:>16} [{bar:30}] {pos}/{len} (ETA {eta})";

pub(super) fn load_dataset_reporting(dir: &Path) -> Result<Dataset> {
    load_dataset_reporting_at(dir, crate::engine::model::INPUT_SIZE)
}

/// [`load_dataset_reporting`] with the photos at `side` (another network's input size).
pub(super) fn load_dataset_reporting_at(dir: &Path, side: i64) -> Result<Dataset> {
    let dataset =
        reading_images(|progress| crate::engine::data::load_dataset_sized(dir, Some(&cache_dir()), side, progress, &INTERRUPTED))?;
    report_dataset(dir, dataset.len(), &dataset.summary(), dataset.cached);
    Ok(dataset)
}

/// [`load_dataset_reporting`] for a data set that stays on disk (an atlas build reads its photos a
/// batch at a time).
pub(super) fn open_dataset_reporting(dir: &Path, side: i64) -> Result<StoredDataset> {
    let dataset = reading_images(|progress| open_dataset_sized(dir, Some(&cache_dir()), side, progress, &INTERRUPTED))?;
    report_dataset(dir, dataset.len(), &dataset.summary(), dataset.cached);
    Ok(dataset)
}

/// Runs `read` with a progress bar for the files it reads.
pub(super) fn reading_images<T>(
    read: impl FnOnce(&(dyn Fn(usize, usize) + Sync)) -> Result<T, crate::engine::data::DataError>,
) -> Result<T> {
    let bar = progress_bar(BAR);
    bar.set_message("reading images");
    // Called from the decoding threads; the bar is shared and cheap to update.
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let loaded = read(&progress);
    bar.finish_and_clear();
    Ok(loaded?)
}

pub(super) fn report_dataset(dir: &Path, images: usize, summary: &crate::engine::data::DatasetSummary, cached: usize) {
    eprintln!(
        "{}: {} images in {} classes ({} from cache), {} skipped",
        dir.display(),
        images,
        summary.class_names.len(),
        cached,
        summary.skipped.len()
    );
    for skipped in &summary.skipped {
        eprintln!("  skipped {}", skipped.reason);
    }
    for class in summary.classes_too_small_to_split() {
        eprintln!("  warning: class '{class}' has fewer than 2 images and is not validated");
    }
}

/// A layer as `--layer` takes it: any name, resolved against the loaded network's layers
/// ([`resolve_layer`]), which lists the valid names when the name is not one of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerArg(pub String);

impl std::str::FromStr for LayerArg {
    type Err = std::convert::Infallible;
    fn from_str(name: &str) -> Result<LayerArg, Self::Err> {
        Ok(LayerArg(name.trim().to_string()))
    }
}

/// The layer `given` names in `net`, or `default` (chosen from the network's own layers); an
/// unknown name is refused with the network's layer names. `spatial`: the layer must have a
/// grid (class activation maps, atlases).
pub(super) fn resolve_layer(
    given: Option<&LayerArg>,
    default: impl FnOnce(&crate::engine::network::NetworkSpec) -> Layer,
    net: &dyn crate::engine::network::Network,
    spatial: bool,
) -> anyhow::Result<Layer> {
    let spec = net.spec();
    let layer = match given {
        Some(LayerArg(name)) => Layer::named(&spec.layers[spec.resolve_layer(name).map_err(anyhow::Error::msg)?].name),
        None => default(spec),
    };
    let index =
        spec.layer_index(layer.name()).ok_or_else(|| anyhow::anyhow!("{} has no layer {layer}", spec.architecture.display_name()))?;
    if spatial && !spec.layers[index].is_spatial() {
        let names: Vec<&str> = spec.spatial_layers().iter().map(|l| l.name.as_str()).collect();
        anyhow::bail!("{layer} has no spatial grid; the layers that have one: {}", names.join(", "));
    }
    Ok(layer)
}

pub(super) use crate::engine::model::usual_layer;

/// A class given by name or index.
pub(super) fn parse_class(given: &str, classes: &[String]) -> Result<usize> {
    if let Some(index) = classes.iter().position(|c| c == given) {
        return Ok(index);
    }
    match given.parse::<usize>() {
        Ok(index) if index < classes.len() => Ok(index),
        _ => bail!("unknown class '{given}'; the model's classes: {}", classes.join(", ")),
    }
}

pub(super) fn save_png(image: &image::RgbImage, path: &Path, out: Output) -> Result<()> {
    crate::engine::fsutil::write_png(&image::DynamicImage::ImageRgb8(image.clone()), path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    say!(out, "wrote {}", path.display());
    Ok(())
}

/// "向日葵 sunflower" where a description file names the class, else the class name.
pub(super) fn display_names(class_names: &[String]) -> Vec<String> {
    // The user's own descriptions first, as the window picks them.
    let descriptions = crate::descriptions::find_for_classes(&crate::descriptions::description_dirs(), class_names).0;
    class_names
        .iter()
        .map(|id| match DescriptionSet::display_names(descriptions.as_ref(), id, true) {
            // A Chinese name has the English one as its other.
            (zh, other) if !other.is_empty() => format!("{zh} {id}"),
            _ => id.clone(),
        })
        .collect()
}

/// Display names for a model's classes under `--names`; the class ids otherwise.
pub(super) struct ClassNamer {
    names: Vec<String>,
}

impl ClassNamer {
    pub(super) fn new(args: &NamesArgs, class_ids: &[String]) -> Result<ClassNamer> {
        if !args.names {
            return Ok(ClassNamer { names: class_ids.to_vec() });
        }
        let set = match &args.descriptions {
            Some(file) => Some(DescriptionSet::load(file)?),
            None => crate::descriptions::find_for_classes(&crate::descriptions::description_dirs(), class_ids).0,
        };
        let chinese = locale_is_chinese();
        let names = class_ids.iter().map(|id| DescriptionSet::display_names(set.as_ref(), id, chinese).0).collect();
        Ok(ClassNamer { names })
    }

    pub(super) fn name(&self, index: usize) -> &str {
        self.names.get(index).map_or("?", String::as_str)
    }
}

/// Whether the user's locale asks for Chinese (LC_ALL, else LC_MESSAGES, else LANG).
pub(super) fn locale_is_chinese() -> bool {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .is_some_and(|value| value.starts_with("zh"))
}
