//! `atlas …`: build, export, place, inspect and embed activation atlases, and their timelines.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::common::{
    BAR, ClassNamer, INTERRUPTED, LayerArg, NamesArgs, Output, PartlyDone, display_names, open_dataset_reporting, parse_class,
    progress_bar, resolve_layer, save_png, usual_layer, weights_or_shipped,
};
use crate::engine::image_input::load_network_image_sized;
use crate::engine::model::{Layer, default_device};
use crate::engine::network::import::load_network;
use crate::resources;

#[derive(Subcommand, Debug)]
pub enum AtlasCommand {
    /// Build an atlas (collect activations, kNN, UMAP, cells, icons) and save it.
    Build(AtlasBuildArgs),
    /// Render an atlas file as a PNG.
    Export(AtlasExportArgs),
    /// Place images on an atlas: where their activations land and the predicted class.
    Place(AtlasPlaceArgs),
    /// What an atlas holds: layer, parameters, grid levels, cells, icons, images, provenance.
    Info(AtlasInfoArgs),
    /// One cell: its count, top classes by attribution and by label, members, and its real
    /// patches written as PNGs.
    Cell(AtlasCellArgs),
    /// Make an atlas self-contained: embed every image's network input (read from --data) so
    /// its real patches show anywhere; with --portable, also drop this machine's paths.
    Embed(AtlasEmbedArgs),
    /// The atlas timeline of a training run: the same activations laid out under each epoch's
    /// checkpoint, every layout started from and aligned to the one before, saved as a
    /// .timeline file (and, with --animation, as a GIF or APNG).
    Timeline(AtlasTimelineArgs),
    /// Write a .timeline file as an animated GIF (.gif) or APNG (.png).
    TimelineExport(AtlasTimelineExportArgs),
}

#[derive(Args, Debug)]
pub struct AtlasTimelineArgs {
    /// The run folder: the epoch-NNN.safetensors checkpoints (with their .json) of one training run.
    #[arg(long)]
    pub run: PathBuf,
    /// The labelled data set folder the run trained on (classes must match).
    #[arg(long)]
    pub data: PathBuf,
    /// Output .timeline file.
    #[arg(long)]
    pub out: PathBuf,
    /// Layer to map, one with a grid (default: the paper's conv2; for a fine-tuning, the first
    /// block it trains; else the network's middle grid layer).
    #[arg(long)]
    pub layer: Option<LayerArg>,
    /// Interior positions sampled per photo (fewer when the frame would exceed --max-points).
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// Points per frame at most.
    #[arg(long, default_value_t = 20_000)]
    pub max_points: usize,
    /// Use every N-th checkpoint (the last is always used).
    #[arg(long, default_value_t = 1)]
    pub every: usize,
    /// UMAP neighbours.
    #[arg(long, default_value_t = 15)]
    pub neighbors: usize,
    /// UMAP epochs per frame.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the animation (.gif or .png/APNG).
    #[arg(long)]
    pub animation: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AtlasTimelineExportArgs {
    /// A .timeline file (from `atlas timeline` or the window).
    pub timeline: PathBuf,
    /// Output animation: .gif or .png (APNG).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub animation: AnimationArgs,
}

#[derive(Args, Debug)]
pub struct AnimationArgs {
    /// Plot size in pixels (16-2048; the legend adds 190).
    #[arg(long, default_value_t = 640)]
    pub size: u32,
    /// Pictures between two checkpoints, for smooth motion.
    #[arg(long, default_value_t = 4)]
    pub tween: usize,
    /// Milliseconds per picture.
    #[arg(long, default_value_t = 80)]
    pub frame_ms: u32,
    /// Draw each picture as an atlas of real photo patches in a grid of N x N cells (2-100)
    /// instead of points in class colours.
    #[arg(long, value_name = "N")]
    pub atlas_grid: Option<usize>,
}

#[derive(Args, Debug)]
pub struct AtlasInfoArgs {
    /// Atlas file.
    pub atlas: PathBuf,
}

#[derive(Args, Debug)]
pub struct AtlasCellArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// Grid level (cells per side), one of the atlas's.
    #[arg(long)]
    pub grid: u16,
    /// The cell by grid coordinates, "X,Y".
    #[arg(long, conflicts_with = "rank", required_unless_present = "rank")]
    pub cell: Option<String>,
    /// The K-th most populated cell (1 = the densest).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Write the cell's real patches (up to 24) as PNG files into this folder.
    #[arg(long)]
    pub patches: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AtlasEmbedArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// The data set folder the atlas was built from (needed when it has no embedded images).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output file; defaults to rewriting the atlas in place (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Record the model and data set by name only, and image paths inside the data set.
    #[arg(long)]
    pub portable: bool,
}

#[derive(Args, Debug)]
pub struct AtlasBuildArgs {
    /// Model weights; defaults to the shipped flower model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Labelled data set folder (the paper's network: classes must match the model's; a network
    /// trained on other classes attributes each folder class to the output it most gives it).
    #[arg(long)]
    pub data: PathBuf,
    /// Layer to map, one with a grid (default: the paper's conv2, another network's middle grid
    /// layer). `activation-atlas model layers` lists a network's layers.
    #[arg(long)]
    pub layer: Option<LayerArg>,
    /// Output atlas file.
    #[arg(long)]
    pub out: PathBuf,
    /// Interior positions sampled per image.
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// UMAP neighbours (the paper: 5; the published atlases: 15-50).
    #[arg(long, default_value_t = 15)]
    pub neighbors: usize,
    /// UMAP minimum distance (the paper: 0.05).
    #[arg(long, default_value_t = 0.05)]
    pub min_dist: f32,
    /// UMAP epochs.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Grid sizes, comma-separated, coarse to fine.
    #[arg(long, default_value = "10,20,40,80", value_delimiter = ',')]
    pub grids: Vec<usize>,
    /// Grid sizes whose cells get icons [default: 10,20,40 for the paper's network, 10,20 for
    /// others, whose icons cost more].
    #[arg(long, value_delimiter = ',')]
    pub icon_grids: Option<Vec<usize>>,
    /// Optimisation steps per icon [default: 128 for the paper's network, 64 for others, whose
    /// icons cost more and change little after 64].
    #[arg(long)]
    pub icon_steps: Option<usize>,
    /// Cells with fewer vectors get no icon.
    #[arg(long, default_value_t = 4)]
    pub min_count: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Lay out with t-SNE instead of UMAP (exact; subsamples above 4000 vectors).
    #[arg(long)]
    pub tsne: bool,
    /// Skip the paper's class mosaic and data distribution views.
    #[arg(long)]
    pub no_paper_views: bool,
    /// A class activation atlas: only the vectors with the strongest attribution to this class
    /// (name or index), their own layout and icons.
    #[arg(long, conflicts_with = "compare")]
    pub class: Option<String>,
    /// Compare two classes (names or indices, e.g. daisy,windflower): x is attribution to the
    /// first minus attribution to the second, y a 1-D UMAP of the vectors.
    #[arg(long, value_delimiter = ',', value_name = "C1,C2")]
    pub compare: Vec<String>,
    /// Vectors a --class or --compare atlas keeps (the strongest).
    #[arg(long, default_value_t = crate::engine::atlas::build::FOCUS_VECTORS)]
    pub focus_vectors: usize,
}

#[derive(Args, Debug)]
pub struct AtlasExportArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub png: PathBuf,
    /// Picture size in pixels (up to 8192).
    #[arg(long, default_value_t = 2048)]
    pub size: u32,
    /// Grid level to draw (one of the atlas's).
    #[arg(long, default_value_t = 20)]
    pub grid: u16,
    /// Draw grid lines.
    #[arg(long)]
    pub grid_lines: bool,
    /// Mark each cell with its top class's colour.
    #[arg(long)]
    pub labels: bool,
}

#[derive(Args, Debug)]
pub struct AtlasPlaceArgs {
    /// Atlas file.
    pub atlas: PathBuf,
    /// Images to place.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Model weights (must be the atlas's model); defaults to the one recorded in the atlas.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub names: NamesArgs,
}

pub(super) fn atlas_build(args: AtlasBuildArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::build::AtlasFocus;
    use crate::engine::atlas::{AtlasParams, BuildEvent, Stage, build_atlas, save_atlas};
    let weights = weights_or_shipped(args.weights)?;
    let model = load_network(&weights, default_device())?;
    let layer = resolve_layer(args.layer.as_ref(), |spec| usual_layer(spec, Layer::CONV2, true), model.net.as_ref(), true)?;
    let dataset = open_dataset_reporting(&args.data, model.net.spec().input_size)?;
    let paper = crate::engine::model::paper_net(model.net.as_ref()).is_some();
    // Classes are named as the data set names them (the model's own, when trained on it).
    let classes = &dataset.class_names;
    let focus = match (&args.class, args.compare.as_slice()) {
        (Some(class), _) => AtlasFocus::Class { class: parse_class(class, classes)?, vectors: args.focus_vectors },
        (None, [first, second]) => {
            AtlasFocus::Compare { first: parse_class(first, classes)?, second: parse_class(second, classes)?, vectors: args.focus_vectors }
        }
        (None, []) => AtlasFocus::All,
        (None, _) => bail!("--compare takes two classes, e.g. --compare daisy,windflower"),
    };
    let params = AtlasParams {
        layer,
        samples_per_image: args.samples,
        umap: crate::engine::atlas::layout::UmapParams {
            n_neighbors: args.neighbors,
            min_dist: args.min_dist,
            epochs: args.epochs,
            seed: args.seed,
            ..Default::default()
        },
        grid_levels: args.grids.clone(),
        min_count: args.min_count,
        icon_levels: args.icon_grids.clone().unwrap_or_else(|| AtlasParams::default_icon_levels(paper)),
        icons: crate::engine::atlas::icons::IconParams {
            steps: args.icon_steps.unwrap_or_else(|| AtlasParams::default_icon_steps(paper)),
            seed: args.seed,
            ..Default::default()
        },
        seed: args.seed,
        layout_method: if args.tsne {
            crate::engine::atlas::build::LayoutMethod::Tsne
        } else {
            crate::engine::atlas::build::LayoutMethod::Umap
        },
        paper_views: !args.no_paper_views,
        focus,
    };
    let started = std::time::Instant::now();
    let mut stage_started = std::time::Instant::now();
    let mut current: Option<Stage> = None;
    // Per stage: seconds, and the process's peak resident memory when it ended.
    let mut stage_seconds: Vec<(Stage, f64, u64)> = Vec::new();
    let mut neighbours = None;
    let bar = progress_bar(BAR);
    let peak_mb = || crate::engine::memory::peak_resident_bytes().map(crate::engine::memory::megabytes).unwrap_or(0);
    let mut on_event = |event: BuildEvent| {
        if let BuildEvent::Neighbours(report) = event {
            neighbours = Some(report);
            let recall =
                if report.sampled > 0 { format!(", recall {:.3} on {} points", report.recall, report.sampled) } else { String::new() };
            bar.suspend(|| say!(out, "  neighbours: {}{recall}", report.method));
        }
        if let BuildEvent::Stage { stage, done, total } = event {
            if current != Some(stage) {
                if let Some(previous) = current {
                    let seconds = stage_started.elapsed().as_secs_f64();
                    let peak = peak_mb();
                    stage_seconds.push((previous, seconds, peak));
                    bar.suspend(|| say!(out, "  {previous:?}: {seconds:.1} s, peak memory {peak} MB"));
                }
                current = Some(stage);
                stage_started = std::time::Instant::now();
                // A new stage: its own count and time left.
                bar.reset();
                bar.set_message(format!("{stage:?}"));
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let built = build_atlas(&model, &dataset, &params, &mut on_event, &INTERRUPTED);
    bar.finish_and_clear();
    let atlas = built?;
    if let Some(stage) = current {
        let seconds = stage_started.elapsed().as_secs_f64();
        let peak = peak_mb();
        stage_seconds.push((stage, seconds, peak));
        say!(out, "  {stage:?}: {seconds:.1} s, peak memory {peak} MB");
    }
    save_atlas(&atlas, &args.out)?;
    let icons: usize = atlas.icons.iter().map(|l| l.cells.len()).sum();
    let seconds = started.elapsed().as_secs_f64();
    say!(
        out,
        "built {} vectors at {layer}, grids {:?}, {icons} icons in {seconds:.1} s; saved {}",
        atlas.collected.len(),
        args.grids,
        args.out.display()
    );
    Ok(json!({
        "out": args.out.display().to_string(),
        "layer": layer.name(),
        "vectors": atlas.collected.len(),
        "grids": args.grids,
        "icons": icons,
        "seconds": seconds,
        "peak_rss_mb": peak_mb(),
        "neighbours": neighbours,
        "stages": stage_seconds
            .iter()
            .map(|(stage, seconds, peak)| json!({"stage": format!("{stage:?}"), "seconds": seconds, "peak_rss_mb": peak}))
            .collect::<Vec<_>>(),
    }))
}

pub(super) fn atlas_timeline(args: AtlasTimelineArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::timeline::{TimelineEvent, TimelineParams, build_timeline, save_timeline};
    if let Some(path) = &args.animation {
        animation_format(path)?;
    }
    // The run's first checkpoint says which network it trains: its input size and layers.
    let (_, first, _) = crate::engine::atlas::timeline::run_checkpoints(&args.run)
        .into_iter()
        .next()
        .ok_or_else(|| crate::engine::atlas::timeline::TimelineError::NoCheckpoints(args.run.clone()))?;
    let first = load_network(&first, tch::Device::Cpu)?;
    let default = |_: &crate::engine::network::NetworkSpec| {
        crate::engine::atlas::timeline::default_timeline_layer(first.net.as_ref(), first.meta.training.as_ref())
    };
    let layer = resolve_layer(args.layer.as_ref(), default, first.net.as_ref(), true)?;
    let dataset = open_dataset_reporting(&args.data, first.net.spec().input_size)?;
    drop(first);
    let params = TimelineParams {
        layer,
        samples_per_image: args.samples,
        max_points: args.max_points,
        umap: crate::engine::atlas::layout::UmapParams {
            n_neighbors: args.neighbors,
            epochs: args.epochs,
            seed: args.seed,
            ..Default::default()
        },
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let bar = progress_bar(BAR);
    let mut on_event = |event: TimelineEvent| match event {
        TimelineEvent::Frame { frame, frames, epoch } => {
            bar.reset();
            bar.set_message(format!("epoch {epoch} ({}/{frames})", frame + 1));
        }
        TimelineEvent::Photos { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        TimelineEvent::FrameDone { frame, movement } => {
            bar.suspend(|| say!(out, "  frame {}: points moved {movement:.3} of the plot on average", frame + 1));
        }
    };
    let built = build_timeline(&args.run, &dataset, params, args.every, &mut on_event, &INTERRUPTED);
    bar.finish_and_clear();
    let timeline = built?;
    save_timeline(&timeline, &args.out)?;
    let seconds = started.elapsed().as_secs_f64();
    say!(out, "{} frames of {} points in {seconds:.1} s; saved {}", timeline.frames.len(), timeline.len(), args.out.display());
    let animation = match &args.animation {
        Some(path) => Some(write_animation(&timeline, path, &AnimationArgs { size: 640, tween: 4, frame_ms: 80, atlas_grid: None }, out)?),
        None => None,
    };
    let movements = timeline.movements();
    Ok(json!({
        "out": args.out.display().to_string(),
        "frames": timeline.frames.iter().zip(&movements).map(|(f, movement)| json!({
            "epoch": f.epoch, "checkpoint": f.checkpoint, "validation_accuracy": f.validation_accuracy, "movement": movement,
        })).collect::<Vec<_>>(),
        "points": timeline.len(),
        "seconds": seconds,
        "animation": animation,
    }))
}

pub(super) fn atlas_timeline_export(args: AtlasTimelineExportArgs, out: Output) -> Result<serde_json::Value> {
    animation_format(&args.out)?;
    let timeline = crate::engine::atlas::timeline::load_timeline(&args.timeline)?;
    write_animation(&timeline, &args.out, &args.animation, out)
}

pub(super) fn animation_format(path: &Path) -> Result<crate::engine::atlas::animation::AnimationFormat> {
    crate::engine::atlas::animation::AnimationFormat::of(path)
        .ok_or_else(|| anyhow::anyhow!("{}: an animation is written as .gif or .png (APNG)", path.display()))
}

pub(super) fn write_animation(
    timeline: &crate::engine::atlas::timeline::Timeline,
    path: &Path,
    args: &AnimationArgs,
    out: Output,
) -> Result<serde_json::Value> {
    use crate::engine::atlas::animation::{AnimationOptions, Captions, export_animation};
    if !(16..=2048).contains(&args.size) {
        bail!("--size must be between 16 and 2048 pixels");
    }
    if args.atlas_grid.is_some_and(|grid| !(2..=100).contains(&grid)) {
        bail!("--atlas-grid must be between 2 and 100 cells");
    }
    if args.atlas_grid.is_some() && !timeline.has_patches() {
        bail!("this timeline keeps no photo patches (it was made by an older version); make it again to draw it as an atlas");
    }
    let options = AnimationOptions {
        size_px: args.size,
        tween: args.tween.min(30),
        frame_ms: args.frame_ms.clamp(10, 10_000),
        atlas_grid: args.atlas_grid,
        ..Default::default()
    };
    let font = crate::resources::label_font();
    let names = display_names(&timeline.class_names);
    let captions = font.as_ref().map(|font| Captions { font, names: &names });
    let pictures = export_animation(timeline, path, &options, captions.as_ref()).map_err(|e| anyhow::anyhow!(e))?;
    say!(out, "wrote {} ({pictures} pictures, {} checkpoints)", path.display(), timeline.frames.len());
    Ok(json!({"animation": path.display().to_string(), "pictures": pictures, "frames": timeline.frames.len()}))
}

pub(super) fn atlas_export(args: AtlasExportArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::export::ExportOptions;
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    if !(16..=8192).contains(&args.size) {
        bail!("--size must be between 16 and 8192 pixels");
    }
    let options = ExportOptions { size_px: args.size, grid: args.grid, grid_lines: args.grid_lines, class_colours: args.labels };
    let levels: Vec<u16> = atlas.levels.iter().map(|l| l.size).collect();
    let font = args.labels.then(crate::resources::label_font).flatten();
    if args.labels && font.is_none() {
        eprintln!("note: no font with Chinese glyphs found; drawing colour marks without names");
    }
    let names = display_names(&atlas.meta.class_names);
    let labels = font.as_ref().map(|font| crate::engine::atlas::export::Labels { font, names: &names });
    let picture = crate::engine::atlas::export::render_atlas_labelled(&atlas, &options, labels.as_ref())
        .with_context(|| format!("the atlas has no {} grid (it has {levels:?})", args.grid))?;
    save_png(&picture, &args.png, out)?;
    Ok(json!({"out": args.png.display().to_string(), "size": args.size, "grid": args.grid, "labels": labels.is_some()}))
}

pub(super) fn atlas_place(args: AtlasPlaceArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::place_image;
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    // The recorded model, else (a portable atlas records only its file name) a shipped model of
    // that name.
    let recorded = atlas.meta.model_path.clone();
    let weights = args.weights.unwrap_or_else(|| {
        let shipped = recorded.file_name().and_then(|name| resources::find_resource(&Path::new("weights").join(name)));
        if recorded.is_file() { recorded.clone() } else { shipped.unwrap_or(recorded.clone()) }
    });
    let model = load_network(&weights, default_device())?;
    if model.fingerprint != atlas.meta.model_fingerprint {
        bail!("{} is not the model this atlas was built from", weights.display());
    }
    // The predicted class is the network's (an ImageNet network's, for one).
    let model_classes = &model.meta.class_names;
    let namer = ClassNamer::new(&args.names, model_classes)?;
    let input_size = model.net.spec().input_size;
    let mut results = Vec::new();
    let mut failures = 0;
    for path in &args.images {
        // One unreadable picture is reported and the others are still placed.
        let image = match load_network_image_sized(path, input_size) {
            Ok(image) => image,
            Err(error) => {
                failures += 1;
                eprintln!("error: {error}");
                results.push(json!({"image": path.display().to_string(), "error": error.to_string()}));
                continue;
            }
        };
        let placement = place_image(model.net.as_ref(), &atlas, &image, 5);
        let class = model_classes.get(placement.predicted_class).cloned().unwrap_or_default();
        let name = namer.name(placement.predicted_class);
        if !out.json {
            println!(
                "{}: at ({:.3}, {:.3}), predicted {name} ({:.1}%), {} vectors",
                path.display(),
                placement.centre[0],
                placement.centre[1],
                placement.confidence * 100.0,
                placement.points.len()
            );
        }
        results.push(json!({"image": path.display().to_string(), "centre": placement.centre, "points": placement.points, "class": class, "name": name, "confidence": placement.confidence}));
    }
    let result = json!({"atlas": args.atlas.display().to_string(), "results": results});
    if failures > 0 {
        let message = format!("{failures} of {} pictures could not be read", args.images.len());
        return Err(PartlyDone { result, message }.into());
    }
    Ok(result)
}

pub(super) fn atlas_info(args: AtlasInfoArgs, out: Output) -> Result<serde_json::Value> {
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    let meta = &atlas.meta;
    let fidelity = crate::engine::atlas::fidelity::level_fidelity(&atlas);
    let levels: Vec<serde_json::Value> = atlas
        .levels
        .iter()
        .map(|level| {
            let icons = atlas.icons_of(level.size).map_or(0, |i| i.cells.len());
            let mut entry = json!({"grid": level.size, "cells": level.cells.len(), "icons": icons});
            if let Some(f) = fidelity.iter().find(|f| f.grid == level.size) {
                entry["icon_cosine_median"] = json!(f.icon_cosine_median);
                entry["icon_cosine_min"] = json!(f.icon_cosine_min);
                entry["icon_saturation_mean"] = json!(f.icon_saturation_mean);
                entry["patch_saturation_mean"] = json!(f.patch_saturation_mean);
                entry["icon_patch_colour_distance"] = json!(f.icon_patch_colour_distance);
            }
            entry
        })
        .collect();
    let images = atlas.images.as_ref().map(|i| json!({"count": i.len(), "bytes": i.jpeg.len()}));
    let info = json!({
        "layer": atlas.collected.layer.name(),
        "vectors": atlas.collected.len(),
        "dim": atlas.collected.dim,
        "classes": meta.class_names,
        "levels": levels,
        "params": meta.params,
        "model": {"file": meta.model_path.display().to_string(), "fingerprint": meta.model_fingerprint},
        "dataset": meta.dataset,
        "embedded_images": images,
        "paper_views": atlas.mosaic.is_some() && atlas.distribution.is_some(),
        "created_at": meta.created_at,
        "format_version": meta.format_version,
        "focus": meta.params.focus,
        "colours": meta.colours,
    });
    if out.json {
        return Ok(info);
    }
    println!(
        "{}: {} vectors of {} at {} ({} classes)",
        args.atlas.display(),
        atlas.collected.len(),
        atlas.collected.dim,
        atlas.collected.layer,
        meta.class_names.len()
    );
    for level in &levels {
        print!("  grid {}x{}: {} cells, {} icons", level["grid"], level["grid"], level["cells"], level["icons"]);
        if let Some(cosine) = level["icon_cosine_median"].as_f64() {
            print!(", centre cosine median {cosine:.3}");
        }
        if let Some(cosine) = level["icon_cosine_min"].as_f64() {
            print!(" (lowest {cosine:.3})");
        }
        if let Some(saturation) = level["icon_saturation_mean"].as_f64() {
            print!(", icon saturation {saturation:.3}");
        }
        if let (Some(patches), Some(distance)) = (level["patch_saturation_mean"].as_f64(), level["icon_patch_colour_distance"].as_f64()) {
            print!(" (real patches {patches:.3}; hue/saturation distance {distance:.3})");
        }
        println!();
    }
    match &atlas.images {
        Some(images) => {
            println!("  embedded images: {} ({:.1} MB): patches show without the data set", images.len(), images.jpeg.len() as f64 / 1e6)
        }
        None => println!("  no embedded images: patches are read from {}", meta.data_dir.display()),
    }
    if let Some(dataset) = &meta.dataset {
        let total: usize = dataset.class_counts.iter().sum();
        println!("  data set: {} ({total} images, file list sha256 {})", dataset.name, dataset.files_sha256);
    }
    println!("  model: {} (fingerprint {})", meta.model_path.display(), meta.model_fingerprint);
    println!("  built {}", meta.created_at);
    Ok(info)
}

pub(super) fn atlas_embed(args: AtlasEmbedArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::atlas::embedded::{DatasetProvenance, EmbeddedImages};
    let mut atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    if let Some(data) = &args.data {
        // Image paths as recorded, found again under the folder given.
        let count = atlas.meta.image_paths.len();
        let old_root = atlas.meta.data_dir.clone();
        let files: Vec<PathBuf> = (0..count)
            .map(|i| {
                let recorded = atlas.meta.image_file(i).unwrap_or_default();
                data.join(crate::engine::atlas::embedded::relative_to(&recorded, &old_root))
            })
            .collect();
        let mut images = Vec::with_capacity(count);
        let side = atlas.meta.geometry().embedded_side;
        for file in &files {
            images.push(
                load_network_image_sized(file, side.into()).with_context(|| format!("{} is one of the atlas's images", file.display()))?,
            );
        }
        atlas.images = Some(EmbeddedImages::encode(&images));
        let labels: Vec<usize> = {
            // Each image's label, from any of its vectors.
            let mut labels = vec![0; count];
            for (image, label) in atlas.collected.image.iter().zip(&atlas.collected.label) {
                labels[*image as usize] = *label as usize;
            }
            labels
        };
        atlas.meta.dataset = Some(DatasetProvenance::of(data, &files, &labels, atlas.meta.class_names.len()));
        atlas.meta.data_dir = std::path::absolute(data).unwrap_or(data.clone());
        atlas.meta.image_paths = files.iter().map(|f| crate::engine::atlas::embedded::relative_to(f, data)).collect();
        atlas.meta.format_version = atlas.meta.format_version.max(2);
    } else if atlas.images.is_none() {
        bail!("{} has no embedded images: give --data with the folder it was built from", args.atlas.display());
    }
    if args.portable {
        atlas.meta.make_portable();
    }
    let written = args.out.unwrap_or(args.atlas);
    crate::engine::atlas::save_atlas(&atlas, &written)?;
    let images = atlas.images.as_ref().map_or(0, |i| i.len());
    say!(out, "wrote {} with {images} embedded images", written.display());
    Ok(json!({"out": written.display().to_string(), "embedded_images": images, "portable": args.portable}))
}

/// Patches written by `atlas cell`, as the window shows them.
pub(super) const CELL_PATCHES: usize = 24;

pub(super) fn atlas_cell(args: AtlasCellArgs, out: Output) -> Result<serde_json::Value> {
    let atlas = crate::engine::atlas::load_atlas(&args.atlas)?;
    let grids: Vec<u16> = atlas.levels.iter().map(|l| l.size).collect();
    let level = atlas.level(args.grid).with_context(|| format!("the atlas has no {} grid (it has {grids:?})", args.grid))?;
    let cell = match (&args.cell, args.rank) {
        (Some(at), _) => {
            let parts: Vec<u16> = at
                .split(',')
                .map(|p| p.trim().parse::<u16>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--cell takes X,Y, not '{at}'"))?;
            let [x, y] = parts[..] else { bail!("--cell takes X,Y, not '{at}'") };
            level.cell_at(x, y).with_context(|| format!("cell ({x}, {y}) of the {} grid is empty or outside it", args.grid))?
        }
        (None, Some(rank)) => {
            let mut by_count: Vec<&crate::engine::atlas::cells::Cell> = level.cells.iter().collect();
            by_count.sort_by(|a, b| b.count.cmp(&a.count).then((a.y, a.x).cmp(&(b.y, b.x))));
            let count = by_count.len();
            *by_count.get(rank.wrapping_sub(1)).with_context(|| format!("--rank must be from 1 to {count}"))?
        }
        (None, None) => bail!("give --cell X,Y or --rank K"),
    };
    let names = &atlas.meta.class_names;
    let name = |class: u16| names.get(class as usize).cloned().unwrap_or_default();
    let found = crate::engine::atlas::patches::cell_patches(&atlas, &cell.members, CELL_PATCHES);
    let mut written = Vec::new();
    if let Some(dir) = &args.patches {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (i, patch) in found.patches.iter().enumerate() {
            let file = dir.join(format!("patch-{i:02}-{}.png", name(patch.label)));
            crate::engine::fsutil::write_png(&image::DynamicImage::ImageRgb8(patch.image.clone()), &file)
                .with_context(|| format!("cannot write {}", file.display()))?;
            written.push(file);
        }
    }
    let members: Vec<serde_json::Value> = cell
        .members
        .iter()
        .map(|&m| {
            let m = m as usize;
            let image = atlas.collected.image[m] as usize;
            json!({"vector": m, "image": atlas.meta.image_paths.get(image).map(|p| p.display().to_string()), "label": name(atlas.collected.label[m]), "position": atlas.collected.position[m]})
        })
        .collect();
    let top_attribution: Vec<_> = cell.top_by_attribution.iter().map(|&(c, a)| json!({"class": name(c), "attribution": a})).collect();
    let top_label: Vec<_> = cell.top_by_label.iter().map(|&(c, n)| json!({"class": name(c), "count": n})).collect();
    let info = json!({
        "grid": args.grid, "x": cell.x, "y": cell.y, "count": cell.count,
        "top_by_attribution": top_attribution, "top_by_label": top_label, "members": members,
        "patches": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "missing_images": found.missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    });
    if !out.json {
        println!("cell ({}, {}) of the {}x{} grid: {} vectors", cell.x, cell.y, args.grid, args.grid, cell.count);
        for &(class, attribution) in &cell.top_by_attribution {
            println!("  by attribution: {} {attribution:.4}", name(class));
        }
        for &(class, count) in &cell.top_by_label {
            println!("  by label: {} ({count})", name(class));
        }
        if !written.is_empty() {
            println!("  wrote {} patches to {}", written.len(), args.patches.as_deref().unwrap_or(Path::new("")).display());
        }
    }
    if !found.missing.is_empty() {
        // Say what is missing and where it was expected.
        eprintln!(
            "note: {} of the cell's images were not found, e.g. {} (the atlas has no embedded images)",
            found.missing.len(),
            found.missing[0].display()
        );
    }
    Ok(info)
}
