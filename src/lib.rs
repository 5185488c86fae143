//! Activation Atlas: train a small CNN on a folder of images, classify with it, and look inside.
//!
//! Three layers that never leak (see ARCHITECTURE.md): [`engine`] (libtorch, no GUI),
//! [`worker`] (one thread that owns the model), and [`app`] (egui). The [`cli`] drives the engine
//! directly.

pub mod app;
pub mod cli;
pub mod descriptions;
pub mod engine;
pub mod logging;
pub mod resources;
pub mod worker;
