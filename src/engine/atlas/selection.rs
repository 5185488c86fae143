//! A selection of an atlas's images: the points inside a lasso or a box drawn over a view, the
//! selected images as rows (file, class, place), written out as CSV or JSON, or their files copied
//! into a folder of class folders.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::Atlas;
use crate::engine::fsutil::write_atomically;

/// Whether `point` lies inside the closed polygon `polygon` (even-odd rule; the last vertex joins
/// the first). Fewer than three vertices enclose nothing.
pub fn inside_polygon(polygon: &[[f64; 2]], point: [f64; 2]) -> bool {
    if polygon.len() < 3 {
        return false;
    }
    let [x, y] = point;
    let mut inside = false;
    let mut previous = polygon[polygon.len() - 1];
    for &vertex in polygon {
        let ([x1, y1], [x2, y2]) = (previous, vertex);
        // The edge crosses the horizontal line through the point, to the point's right.
        if (y1 > y) != (y2 > y) && x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) {
            inside = !inside;
        }
        previous = vertex;
    }
    inside
}

/// The indices of `points` inside `polygon`, in order. A bounding-box test first, so a small
/// lasso over a million points costs little more than reading them.
pub fn points_inside(polygon: &[[f64; 2]], points: impl IntoIterator<Item = (usize, [f64; 2])>) -> Vec<usize> {
    if polygon.len() < 3 {
        return Vec::new();
    }
    let (mut low, mut high) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in polygon {
        for axis in 0..2 {
            low[axis] = low[axis].min(p[axis]);
            high[axis] = high[axis].max(p[axis]);
        }
    }
    points
        .into_iter()
        .filter(|(_, p)| (0..2).all(|axis| p[axis] >= low[axis] && p[axis] <= high[axis]))
        .filter(|(_, p)| inside_polygon(polygon, *p))
        .map(|(index, _)| index)
        .collect()
}

/// The rectangle between two corners as a polygon, for a box selection.
pub fn box_polygon(a: [f64; 2], b: [f64; 2]) -> Vec<[f64; 2]> {
    vec![a, [b[0], a[1]], b, [a[0], b[1]]]
}

/// The images the atlas vectors `vectors` come from, each once: those with the most of these
/// vectors first (the photos that are most "in" a region of the map), ties by image index.
pub fn images_of_vectors(atlas: &Atlas, vectors: &[usize]) -> Vec<usize> {
    let mut counts: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for image in vectors.iter().filter_map(|&v| atlas.collected.image.get(v)) {
        *counts.entry(*image as usize).or_default() += 1;
    }
    let mut ranked: Vec<(usize, usize)> = counts.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().map(|(image, _)| image).collect()
}

/// One selected image, as exported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectedImage {
    /// The image's index in the atlas.
    pub index: usize,
    /// Its class folder name.
    pub class: String,
    /// Its path as the atlas records it (inside the data set for a portable atlas).
    pub path: PathBuf,
    /// Its file on this machine, if it was found.
    pub file: Option<PathBuf>,
    /// Its place in the data distribution's 2-D UMAP view, when the atlas has one.
    pub umap: Option<[f32; 2]>,
}

/// The file of image `index` on this machine: where the atlas says, else inside the first of
/// `fallback_dirs` that has it (a portable atlas names its images inside its data set, which may
/// be anywhere here).
pub fn image_file_here(atlas: &Atlas, index: usize, fallback_dirs: &[PathBuf]) -> Option<PathBuf> {
    let recorded = atlas.meta.image_file(index).filter(|p| p.is_file());
    let inside = atlas.meta.image_paths.get(index)?;
    recorded.or_else(|| fallback_dirs.iter().map(|dir| dir.join(inside)).find(|p| p.is_file()))
}

/// The class of each image (the label of its vectors), by image index.
pub fn image_classes(atlas: &Atlas) -> Vec<Option<u16>> {
    let mut classes = vec![None; atlas.meta.image_paths.len()];
    for (&image, &label) in atlas.collected.image.iter().zip(&atlas.collected.label) {
        if let Some(slot) = classes.get_mut(image as usize) {
            *slot = Some(label);
        }
    }
    classes
}

/// The rows for `images` (atlas image indices; unknown ones are left out).
pub fn selected_images(atlas: &Atlas, images: &[usize], fallback_dirs: &[PathBuf]) -> Vec<SelectedImage> {
    let classes = image_classes(atlas);
    images
        .iter()
        .filter_map(|&index| {
            let path = atlas.meta.image_paths.get(index)?.clone();
            let class =
                classes.get(index).copied().flatten().and_then(|c| atlas.meta.class_names.get(c as usize).cloned()).unwrap_or_default();
            let umap = atlas.distribution.as_ref().and_then(|d| Some([*d.umap2.get(2 * index)?, *d.umap2.get(2 * index + 1)?]));
            Some(SelectedImage { index, class, path, file: image_file_here(atlas, index, fallback_dirs), umap })
        })
        .collect()
}

/// The format of an exported selection, from the file's extension (CSV unless it ends in .json).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectionFormat {
    Csv,
    Json,
}

impl SelectionFormat {
    pub fn of(path: &Path) -> SelectionFormat {
        let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json { SelectionFormat::Json } else { SelectionFormat::Csv }
    }
}

/// A CSV text field, quoted when it holds a separator, a quote or a line break. One that starts
/// like a formula (`= + - @`, or a tab or carriage return before one) gets a leading `'` so a
/// spreadsheet shows it as text instead of running it; numbers are written without this.
pub fn csv_field(text: &str) -> String {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if formula { format!("'{text}") } else { text.to_string() };
    if formula || text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The selection as CSV: a header, then one row per image.
pub fn selection_csv(rows: &[SelectedImage]) -> String {
    let mut out = String::from("index,class,path,file,umap_x,umap_y\n");
    for row in rows {
        let file = row.file.as_ref().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let (x, y) = row.umap.map(|[x, y]| (x.to_string(), y.to_string())).unwrap_or_default();
        let fields = [row.index.to_string(), csv_field(&row.class), csv_field(&row.path.to_string_lossy()), csv_field(&file), x, y];
        out += &fields.join(",");
        out.push('\n');
    }
    out
}

/// The selection as a JSON document: `{"count": n, "images": [...]}`.
pub fn selection_json(rows: &[SelectedImage]) -> String {
    let document = serde_json::json!({ "count": rows.len(), "images": rows });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// Writes the selection to `path` atomically, as CSV or JSON by its extension.
pub fn save_selection(path: &Path, rows: &[SelectedImage]) -> io::Result<()> {
    let text = match SelectionFormat::of(path) {
        SelectionFormat::Csv => selection_csv(rows),
        SelectionFormat::Json => selection_json(rows),
    };
    write_atomically(path, text.as_bytes())
}

/// What copying a selection did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CopyReport {
    /// Files written, as (source, destination).
    pub copied: Vec<(PathBuf, PathBuf)>,
    /// Files not copied, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// Copies the selected images' files into `dest`, each into a folder named after its class, so
/// the result is itself a data set. A name already taken gets a number ("rose-2.jpg"); nothing is
/// overwritten. Only regular files are read (a FIFO or device is refused, not waited on); each
/// file is written under a temporary name and renamed, so none is left half-written. `progress`
/// gets (done, total); a cancel stops between files.
pub fn copy_selection(
    rows: &[SelectedImage],
    dest: &Path,
    mut progress: impl FnMut(usize, usize),
    cancel: &AtomicBool,
) -> io::Result<CopyReport> {
    std::fs::create_dir_all(dest)?;
    let mut report = CopyReport::default();
    for (done, row) in rows.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        progress(done, rows.len());
        let Some(source) = &row.file else {
            report.failed.push((row.path.clone(), "not found on this computer".to_string()));
            continue;
        };
        match copy_one(source, &dest.join(class_folder(&row.class))) {
            Ok(target) => report.copied.push((source.clone(), target)),
            Err(error) => report.failed.push((source.clone(), error.to_string())),
        }
    }
    progress(rows.len(), rows.len());
    Ok(report)
}

/// A class name as one safe folder name.
fn class_folder(class: &str) -> String {
    let name: String = class.chars().map(|c| if c == '/' || c == '\\' || c.is_control() { '_' } else { c }).collect();
    if name.is_empty() || name == "." || name == ".." { "unlabelled".to_string() } else { name }
}

fn copy_one(source: &Path, folder: &Path) -> io::Result<PathBuf> {
    let meta = std::fs::metadata(source)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    std::fs::create_dir_all(folder)?;
    let name = source.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let target = free_name(folder, Path::new(name));
    let partial = folder.join(format!(".{}.partial", target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    // Flushed to disk before it takes its name, so a crash never leaves a named, empty copy.
    let copied = std::fs::copy(source, &partial).and_then(|_| std::fs::File::open(&partial)?.sync_all());
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    // `rename` would replace a file that appeared meanwhile; a hard link refuses instead. Where
    // the folder's file system has no hard links (a FAT memory stick), rename.
    match std::fs::hard_link(&partial, &target) {
        Ok(()) => std::fs::remove_file(&partial)?,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
        Err(_) => std::fs::rename(&partial, &target)?,
    }
    Ok(target)
}

/// `folder/name`, or `folder/stem-2.ext`, `-3`, … if taken.
fn free_name(folder: &Path, name: &Path) -> PathBuf {
    let first = folder.join(name);
    if !first.exists() {
        return first;
    }
    let stem = name.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let extension = name.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (2..).map(|n| folder.join(format!("{stem}-{n}{extension}"))).find(|p| !p.exists()).unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_holds_its_inside_only() {
        let square = box_polygon([0.0, 0.0], [1.0, 1.0]);
        assert!(inside_polygon(&square, [0.5, 0.5]));
        assert!(!inside_polygon(&square, [1.5, 0.5]));
        assert!(!inside_polygon(&square, [-0.1, 0.2]));
    }

    #[test]
    fn a_concave_lasso_leaves_out_its_notch() {
        // A "U": the notch between its arms is outside.
        let u = [[0.0, 0.0], [3.0, 0.0], [3.0, 3.0], [2.0, 3.0], [2.0, 1.0], [1.0, 1.0], [1.0, 3.0], [0.0, 3.0]];
        assert!(inside_polygon(&u, [0.5, 2.5]));
        assert!(inside_polygon(&u, [2.5, 2.5]));
        assert!(!inside_polygon(&u, [1.5, 2.0]));
        let points = [[0.5, 2.5], [1.5, 2.0], [2.5, 0.5], [4.0, 1.0]].into_iter().enumerate();
        assert_eq!(points_inside(&u, points), vec![0, 2]);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let row = SelectedImage {
            index: 3,
            class: "lily, \"valley\"".to_string(),
            path: PathBuf::from("a/b.jpg"),
            file: None,
            umap: Some([0.25, 0.5]),
        };
        let csv = selection_csv(&[row]);
        assert_eq!(csv.lines().nth(1), Some("3,\"lily, \"\"valley\"\"\",a/b.jpg,,0.25,0.5"));
    }

    #[test]
    fn copies_never_overwrite_and_refuse_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("rose.jpg");
        std::fs::write(&source, b"picture").unwrap();
        let row = |file: &Path| SelectedImage {
            index: 0,
            class: "roses".to_string(),
            path: PathBuf::from("roses/rose.jpg"),
            file: Some(file.to_path_buf()),
            umap: None,
        };
        let dest = dir.path().join("out");
        let rows = [row(&source), row(&source), row(dir.path())];
        let report = copy_selection(&rows, &dest, |_, _| {}, &AtomicBool::new(false)).unwrap();
        let targets: Vec<PathBuf> = report.copied.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(targets, vec![dest.join("roses/rose.jpg"), dest.join("roses/rose-2.jpg")]);
        assert_eq!(std::fs::read(&targets[1]).unwrap(), b"picture");
        assert_eq!(report.failed.len(), 1);
        assert_eq!(std::fs::read_dir(dest.join("roses")).unwrap().count(), 2, "no partial files left");
    }
}
