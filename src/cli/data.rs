//! `data get`: the paper's flowers17 in one step.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;

use super::common::{BAR, INTERRUPTED, Output, progress_bar};
use crate::engine::data::cache_dir;
use crate::resources;

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Download the Oxford 17 Category Flower Dataset (resuming an interrupted download), check
    /// it, and sort it into the class folders training reads.
    Get(DataGetArgs),
}

#[derive(Args, Debug)]
pub struct DataGetArgs {
    /// Which data set (only "flowers17").
    pub name: String,
    /// Where the class folders go (default ~/.local/share/activation-atlas/datasets/flowers17).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Another address of 17flowers.tgz, or a copy of it on disk.
    #[arg(long)]
    pub from: Option<String>,
    /// The SHA-256 the archive must have, when a mirror repackaged it (default: the published
    /// archive's, or ACTIVATION_ATLAS_FLOWERS17_SHA256).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
}

pub(super) fn data_get(args: DataGetArgs, out: Output) -> Result<serde_json::Value> {
    use crate::engine::dataset_get::{FLOWERS17_URL, GetProgress, Source, expected_sha256, get_flowers17};
    if args.name != "flowers17" {
        bail!("unknown data set '{}': the one available is flowers17", args.name);
    }
    let sha256 = args.sha256.map(|h| h.trim().to_ascii_lowercase()).unwrap_or_else(expected_sha256);
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("--sha256 takes 64 hexadecimal digits, not '{sha256}'");
    }
    let dir = args.dir.unwrap_or_else(|| resources::user_data_dir().join("datasets").join("flowers17"));
    let source = Source::parse(args.from.as_deref().unwrap_or(FLOWERS17_URL));
    let downloads = cache_dir().join("downloads");
    let bar = progress_bar("{msg:>12} [{bar:30}] {bytes}/{total_bytes} (ETA {eta})");
    let mut unpacking = false;
    let mut progress = |step: GetProgress| match step {
        GetProgress::Downloading { done, total } => {
            bar.set_message("downloading");
            bar.set_length(total.unwrap_or(done));
            bar.set_position(done);
        }
        GetProgress::Checking { done, total } => {
            bar.set_message("checking");
            bar.set_length(total);
            bar.set_position(done);
        }
        GetProgress::Unpacking { done, total } => {
            if !unpacking {
                unpacking = true;
                if let Ok(style) = indicatif::ProgressStyle::with_template(BAR) {
                    bar.set_style(style.progress_chars("#>."));
                }
                bar.reset();
                bar.set_message("sorting images");
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    let got = get_flowers17(&source, &dir, &downloads, &sha256, &mut progress, &INTERRUPTED);
    bar.finish_and_clear();
    let images = got?;
    say!(out, "flowers17: {images} images in 17 class folders under {}", dir.display());
    Ok(json!({"name": "flowers17", "dir": dir.display().to_string(), "images": images}))
}
