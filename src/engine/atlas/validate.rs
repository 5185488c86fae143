//! What an atlas file says about itself, checked before the window trusts it: every class id,
//! grid position, icon and mosaic entry inside what the file declares, icons that fit one texture,
//! and image paths that stay inside the data set they belong to. A crafted or damaged file is
//! refused with the first thing found wrong, never indexed out of bounds or followed elsewhere.

use std::path::{Component, Path};

use super::Atlas;
use super::build::AtlasFocus;

/// The widest texture the window packs a level's icons into (what every GPU egui runs on allows).
pub const MAX_ICON_TEXTURE_SIDE: usize = 8192;
/// The largest mosaic map side (the paper's maps are 25 x 25).
const MAX_MOSAIC_SIDE: usize = 1024;

/// The first inconsistency in `atlas`, in words.
pub fn check_atlas(atlas: &Atlas) -> Result<(), String> {
    let classes = atlas.meta.class_names.len();
    if classes != atlas.collected.classes {
        return Err(format!("the header names {classes} classes but its tables have {}", atlas.collected.classes));
    }
    let is_class = |class: u16| usize::from(class) < classes;
    for level in &atlas.levels {
        for cell in &level.cells {
            if cell.x >= level.size || cell.y >= level.size {
                let size = level.size;
                return Err(format!("a cell at ({}, {}) lies outside its {size}×{size} grid", cell.x, cell.y));
            }
            let ids = cell.top_by_attribution.iter().map(|&(c, _)| c).chain(cell.top_by_label.iter().map(|&(c, _)| c));
            if let Some(class) = ids.into_iter().find(|&c| !is_class(c)) {
                return Err(format!("a cell names class {class}, but the atlas has {classes} classes"));
            }
        }
    }
    for icons in &atlas.icons {
        let Some(level) = atlas.levels.iter().find(|l| l.size == icons.size) else {
            return Err(format!("icons for a {0}×{0} grid the atlas does not have", icons.size));
        };
        if icons.cells.iter().any(|&c| c as usize >= level.cells.len()) {
            return Err(format!("an icon of the {0}×{0} grid belongs to a cell it does not have", icons.size));
        }
        let columns = (icons.cells.len() as f64).sqrt().ceil() as usize;
        if icons.icon_px == 0 || columns * usize::from(icons.icon_px) > MAX_ICON_TEXTURE_SIDE {
            return Err(format!(
                "{} icons of {} px do not fit one texture of {MAX_ICON_TEXTURE_SIDE} px",
                icons.cells.len(),
                icons.icon_px
            ));
        }
    }
    if let Some(mosaic) = &atlas.mosaic {
        if mosaic.map_side == 0 || mosaic.map_side > MAX_MOSAIC_SIDE {
            return Err(format!("the class mosaic's maps are {0}×{0}", mosaic.map_side));
        }
        if mosaic.order.iter().any(|&c| c >= classes) || mosaic.labels.iter().any(|&c| !is_class(c)) {
            return Err(format!("the class mosaic names a class beyond the atlas's {classes}"));
        }
    }
    if let Some(distribution) = &atlas.distribution
        && distribution.labels.iter().any(|&c| !is_class(c))
    {
        return Err(format!("the data distribution names a class beyond the atlas's {classes}"));
    }
    match atlas.meta.params.focus {
        AtlasFocus::Class { class, .. } if class >= classes => return Err(format!("it is an atlas of class {class} of {classes}")),
        AtlasFocus::Compare { first, second, .. } if first >= classes || second >= classes => {
            return Err(format!("it compares classes {first} and {second} of {classes}"));
        }
        _ => {}
    }
    if atlas.collected.image.iter().any(|&i| i as usize >= atlas.meta.image_paths.len()) {
        return Err("a vector belongs to an image the atlas does not list".to_string());
    }
    // Since format 2 an image is named inside its data set; older atlases recorded whole paths.
    let relative = atlas.meta.format_version >= 2;
    if let Some(path) = atlas.meta.image_paths.iter().find(|p| !stays_inside(p, relative)) {
        return Err(format!("the image path {} leads outside its data set", path.display()));
    }
    Ok(())
}

/// Whether `path` names a file inside the folder it is read against: no `..`, and no root or
/// drive where the path must be relative.
fn stays_inside(path: &Path, relative: bool) -> bool {
    path.components().all(|component| match component {
        Component::Normal(_) | Component::CurDir => true,
        Component::RootDir | Component::Prefix(_) => !relative,
        Component::ParentDir => false,
    })
}
