//! Peak memory of opening a 108-megapixel photo (12000 x 9000, a phone camera's size) as the
//! app does: decode, orient, reduce, make the network input. Generates a JPEG and a PNG of that
//! size, then runs each load in a child process of this benchmark and reads the child's peak
//! resident memory (VmHWM), so the generation does not count. Goal: ≤ 1.5 GB each.
//!
//! `cargo bench --bench large_photo` prints `RESULT large-photo jpeg …` and `… png …`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use activation_atlas::engine::image_input::load_network_image;

fn peak_resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A photo-like picture: smooth gradients with fine texture, so both codecs work for real.
fn write_photo(path: &Path, format: image::ImageFormat) {
    let (width, height) = (12000u32, 9000u32);
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let texture = ((x * 7 + y * 13) % 17) as u8;
        image::Rgb([(x * 255 / width) as u8 ^ texture, (y * 255 / height) as u8, ((x + y) % 256) as u8])
    });
    picture.save_with_format(path, format).expect("the test photo is written");
}

fn main() {
    activation_atlas::engine::memory::keep_freed_tensor_memory(); // as the app does at start-up
    let args: Vec<String> = std::env::args().collect();
    if let Some(index) = args.iter().position(|a| a == "--child") {
        let path = Path::new(&args[index + 1]);
        let started = Instant::now();
        let input = load_network_image(path).expect("the photo loads");
        assert_eq!(input.dimensions(), (100, 100));
        println!("{:.0} {:.2}", peak_resident_mb(), started.elapsed().as_secs_f64());
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (name, format) in [("jpeg", image::ImageFormat::Jpeg), ("png", image::ImageFormat::Png)] {
        let path = dir.path().join(format!("photo.{name}"));
        write_photo(&path, format);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let output = Command::new(std::env::current_exe().expect("this benchmark"))
            .args(["--child", path.to_str().expect("a UTF-8 temporary path")])
            .output()
            .expect("the child runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut fields = stdout.split_whitespace();
        let (peak, seconds) = (fields.next().unwrap_or("?"), fields.next().unwrap_or("?"));
        println!("RESULT large-photo {name} 12000x9000 ({:.0} MB file): peak memory {peak} MB, {seconds} s", bytes as f64 / 1e6);
    }
}
