//! The activation atlas (Carter et al. 2019, as the paper uses it): activation vectors of many
//! images at one layer, laid out in 2-D by UMAP, binned into grid cells, each cell drawn by
//! feature visualisation; new images can be placed on it.

pub mod collect;
pub mod knn;
pub mod layout;
