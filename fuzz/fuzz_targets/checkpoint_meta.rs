//! A checkpoint's metadata from arbitrary weights bytes and sidecar text: the first input byte
//! says where to split the rest, and whether a sidecar exists.
#![no_main]

use std::path::Path;

use activation_atlas::engine::checkpoint::checkpoint_meta_from_parts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let split = (usize::from(control) * rest.len()) / 255;
    let (weights, sidecar) = rest.split_at(split.min(rest.len()));
    let sidecar = (control % 2 == 0).then(|| String::from_utf8_lossy(sidecar).into_owned());
    if let Ok(meta) = checkpoint_meta_from_parts(Path::new("fuzz.safetensors"), weights, sidecar.as_deref()) {
        let _ = meta.validation_accuracy();
    }
});
