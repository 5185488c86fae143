//! Arbitrary text as a class description file: refused with a reason or parsed, and a parsed
//! set answers lookups and coverage.
#![no_main]

use std::path::Path;

use activation_atlas::descriptions::DescriptionSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(set) = DescriptionSet::parse(text, Path::new("fuzz.toml")) {
        let names: Vec<String> = ["daisy", "sunflower", ""].iter().map(|s| s.to_string()).collect();
        let _ = set.coverage(&names);
        let _ = set.get("daisy");
    }
});
