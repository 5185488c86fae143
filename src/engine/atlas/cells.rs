//! Binning a normalised layout into square grids of cells and summarising each cell.

use serde::{Deserialize, Serialize};

use super::collect::Collected;

/// One non-empty cell of a grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub x: u16,
    pub y: u16,
    pub count: u32,
    /// Mean activation vector of the members: the cell's direction.
    pub direction: Vec<f32>,
    /// Up to three classes with the largest mean attribution, with that mean.
    pub top_by_attribution: Vec<(u16, f32)>,
    /// Up to three most frequent labels among the members, with their counts.
    pub top_by_label: Vec<(u16, u32)>,
    /// The member vectors (indices into the collected tables).
    pub members: Vec<u32>,
}

/// A grid of `size` x `size` cells over the unit square; only non-empty cells are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridLevel {
    pub size: u16,
    pub cells: Vec<Cell>,
}

impl GridLevel {
    /// The cell at grid coordinates, if it has members.
    pub fn cell_at(&self, x: u16, y: u16) -> Option<&Cell> {
        self.cells.iter().find(|c| c.x == x && c.y == y)
    }

    /// Cells with at least `min_count` members (those that get an icon).
    pub fn dense_cells(&self, min_count: u32) -> impl Iterator<Item = (usize, &Cell)> {
        self.cells.iter().enumerate().filter(move |(_, c)| c.count >= min_count)
    }
}

/// The grid coordinate of a layout position in [0, 1].
pub fn cell_coordinate(position: f32, size: usize) -> u16 {
    ((position.clamp(0.0, 1.0) * size as f32) as usize).min(size - 1) as u16
}

/// Bins the points of `layout` (normalised, `n x 2`) into a `size` x `size` grid.
pub fn bin(layout: &[f32], collected: &Collected, size: usize) -> GridLevel {
    let size = size.max(1);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); size * size];
    for i in 0..collected.len() {
        let (x, y) = (cell_coordinate(layout[2 * i], size), cell_coordinate(layout[2 * i + 1], size));
        members[y as usize * size + x as usize].push(i as u32);
    }
    let cells = members
        .into_iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(index, members)| summarise((index % size) as u16, (index / size) as u16, members, collected))
        .collect();
    GridLevel { size: size as u16, cells }
}

fn summarise(x: u16, y: u16, members: Vec<u32>, collected: &Collected) -> Cell {
    let count = members.len() as f32;
    let mut direction = vec![0f32; collected.dim];
    let mut attribution = vec![0f32; collected.classes];
    let mut labels = vec![0u32; collected.classes];
    for &m in &members {
        let m = m as usize;
        for (d, v) in direction.iter_mut().zip(collected.vector(m)) {
            *d += v / count;
        }
        for (a, v) in attribution.iter_mut().zip(collected.attribution_of(m)) {
            *a += v / count;
        }
        labels[collected.label[m] as usize] += 1;
    }
    let mut by_attribution: Vec<(u16, f32)> = attribution.iter().enumerate().map(|(c, &a)| (c as u16, a)).collect();
    by_attribution.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_attribution.truncate(3);
    let mut by_label: Vec<(u16, u32)> = labels.iter().enumerate().filter(|(_, n)| **n > 0).map(|(c, &n)| (c as u16, n)).collect();
    by_label.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_label.truncate(3);
    Cell { x, y, count: members.len() as u32, direction, top_by_attribution: by_attribution, top_by_label: by_label, members }
}
