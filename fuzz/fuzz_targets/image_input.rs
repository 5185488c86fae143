//! Any bytes as a user's picture: decoding either fails with an error or yields a network input.
#![no_main]

use std::path::Path;

use activation_atlas::engine::image_input::{decode_image_bytes, to_network_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = decode_image_bytes(data, Path::new("fuzz.img")) {
        let input = to_network_image(&image);
        assert_eq!(input.dimensions(), (100, 100));
    }
});
