//! The engine: everything computed with libtorch, and nothing that knows about a window.
//! Model, image input, data sets, training, evaluation, checkpoints.

pub mod atlas;
pub mod attribution;
pub mod checkpoint;
pub mod classify;
pub mod cross_validation;
pub mod cv_summary;
pub mod data;
pub mod dataset_get;
pub mod eval;
pub mod explain;
pub mod explanation;
pub mod faithfulness;
pub mod finetune;
pub mod fsutil;
pub mod image_input;
pub mod memory;
pub mod mistakes;
pub mod model;
pub mod network;
pub mod npy;
pub mod precision;
pub mod recipe;
pub mod render;
pub mod rng;
pub mod train;
pub mod transfer;
