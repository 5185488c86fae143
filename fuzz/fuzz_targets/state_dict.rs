//! Arbitrary bytes as a PyTorch state dict (zip, legacy pickle or safetensors): refused with a
//! reason, or tensors whose every element can be read. Nothing in a pickle may run, and no
//! size, stride or offset it states may reach outside its storage.
#![no_main]

use std::path::Path;

use activation_atlas::engine::network::torch_file::parse_state_dict;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tensors) = parse_state_dict(data, Path::new("fuzz.pth")) else { return };
    for (_, tensor) in tensors {
        let _ = tensor.to_kind(tch::Kind::Double).sum(tch::Kind::Double).double_value(&[]);
    }
});
