//! The activation atlas (Carter et al. 2019, as the paper uses it): activation vectors of many
//! images at one layer, laid out in 2-D by UMAP, binned into grid cells, each cell drawn by
//! feature visualisation; new images can be placed on it.

pub mod animation;
pub mod bhtsne;
pub mod build;
pub mod cells;
pub mod collect;
pub mod embedded;
pub mod export;
pub mod fidelity;
pub mod file;
pub mod icons;
pub mod knn;
pub mod layout;
pub mod nndescent;
pub mod patches;
pub mod place;
pub mod selection;
pub mod source;
pub mod table;
pub mod timeline;
pub mod validate;
pub mod views;

pub use build::{Atlas, AtlasError, AtlasParams, BuildEvent, Stage, build_atlas};
pub use file::{load_atlas, parse_atlas, save_atlas};
pub use place::{Placement, place_image};
pub use source::{AtlasModel, LayerGeometry};
