//! Image input: every supported format, generated here, decodes to the same 100x100 RGB input;
//! EXIF orientation and transparency are handled; bad files are refused with a clear reason.

mod common;

use std::io::Cursor;
use std::path::Path;

use activation_atlas::engine::image_input::{ImageInputError, decode_image_bytes, load_network_image};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// Left half red, right half blue: survives lossy coding and shows flips and rotations.
fn two_colour(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| if x < width / 2 { Rgb([230, 20, 20]) } else { Rgb([20, 20, 230]) })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
    bytes
}

fn write_temp(bytes: &[u8], name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// The network input of a file holding `bytes`.
fn network_input(bytes: &[u8], name: &str) -> RgbImage {
    let (_dir, path) = write_temp(bytes, name);
    load_network_image(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_close(actual: Rgb<u8>, expected: [u8; 3], tolerance: i32, what: &str) {
    for c in 0..3 {
        let diff = (i32::from(actual[c]) - i32::from(expected[c])).abs();
        assert!(diff <= tolerance, "{what}: got {actual:?}, expected about {expected:?}");
    }
}

/// Red on the left, blue on the right of the 100x100 input.
fn assert_red_left_blue_right(image: &RgbImage, tolerance: i32, what: &str) {
    assert_eq!(image.dimensions(), (100, 100), "{what}");
    assert_close(*image.get_pixel(20, 50), [230, 20, 20], tolerance, what);
    assert_close(*image.get_pixel(80, 50), [20, 20, 230], tolerance, what);
}

#[test]
fn lossless_formats_decode_identically() {
    let source = DynamicImage::ImageRgb8(two_colour(160, 120));
    for (format, name) in
        [(ImageFormat::Png, "a.png"), (ImageFormat::Bmp, "a.bmp"), (ImageFormat::Tiff, "a.tiff"), (ImageFormat::WebP, "a.webp")]
    {
        let input = network_input(&encode(&source, format), name);
        assert_red_left_blue_right(&input, 0, name);
    }
}

#[test]
fn baseline_jpeg_decodes() {
    let input = network_input(&encode(&DynamicImage::ImageRgb8(two_colour(160, 120)), ImageFormat::Jpeg), "a.jpg");
    assert_red_left_blue_right(&input, 12, "baseline jpeg");
}

#[test]
fn progressive_jpeg_decodes() {
    let source = two_colour(160, 120);
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
    encoder.set_progressive(true);
    encoder.encode(source.as_raw(), 160, 120, jpeg_encoder::ColorType::Rgb).unwrap();
    assert!(bytes.windows(2).any(|w| w == [0xFF, 0xC2]), "the encoder wrote a progressive frame (SOF2)");
    assert_red_left_blue_right(&network_input(&bytes, "p.jpg"), 12, "progressive jpeg");
}

#[test]
fn cmyk_jpeg_decodes_to_the_right_colours() {
    // Left: magenta+yellow = red; right: cyan+magenta = blue.
    let (width, height) = (160u32, 120u32);
    let mut cmyk = Vec::new();
    for _ in 0..height {
        for x in 0..width {
            cmyk.extend_from_slice(if x < width / 2 { &[0, 230, 230, 0] } else { &[230, 230, 0, 0] });
        }
    }
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 95).encode(&cmyk, width as u16, height as u16, jpeg_encoder::ColorType::Cmyk).unwrap();
    let input = network_input(&bytes, "cmyk.jpg");
    let (left, right) = (input.get_pixel(20, 50), input.get_pixel(80, 50));
    assert!(left[0] > 180 && left[1] < 80 && left[2] < 80, "left should be red, got {left:?}");
    assert!(right[2] > 180 && right[0] < 80 && right[1] < 80, "right should be blue, got {right:?}");
}

#[test]
fn png_variants_decode() {
    let rgb = two_colour(160, 120);
    // 16-bit RGB.
    let sixteen = image::ImageBuffer::<Rgb<u16>, _>::from_fn(160, 120, |x, y| {
        let p = rgb.get_pixel(x, y);
        Rgb([u16::from(p[0]) * 257, u16::from(p[1]) * 257, u16::from(p[2]) * 257])
    });
    let input = network_input(&encode(&DynamicImage::ImageRgb16(sixteen), ImageFormat::Png), "16.png");
    assert_red_left_blue_right(&input, 0, "16-bit png");

    // Grey: both halves keep their luminance.
    let grey = image::GrayImage::from_fn(160, 120, |x, _| image::Luma([if x < 80 { 40 } else { 200 }]));
    let input = network_input(&encode(&DynamicImage::ImageLuma8(grey), ImageFormat::Png), "grey.png");
    assert_close(*input.get_pixel(20, 50), [40, 40, 40], 0, "grey png left");
    assert_close(*input.get_pixel(80, 50), [200, 200, 200], 0, "grey png right");
}

#[test]
fn palette_png_with_transparency_is_flattened_on_white() {
    // An indexed PNG: palette [red, blue, transparent], written with the png crate directly.
    let (width, height) = (160u32, 120u32);
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(vec![230, 20, 20, 20, 20, 230, 0, 0, 0]);
        encoder.set_trns(vec![255, 255, 0]);
        let mut writer = encoder.write_header().unwrap();
        let indices: Vec<u8> = (0..height)
            .flat_map(|y| {
                (0..width).map(move |x| {
                    if y < 20 {
                        2
                    } else if x < width / 2 {
                        0
                    } else {
                        1
                    }
                })
            })
            .collect();
        writer.write_image_data(&indices).unwrap();
    }
    let input = network_input(&bytes, "palette.png");
    assert_red_left_blue_right(&input, 0, "palette png");
    assert_close(*input.get_pixel(50, 2), [255, 255, 255], 0, "transparent rows become white");
}

#[test]
fn rgba_half_transparent_is_composited_on_white() {
    let image = RgbaImage::from_pixel(50, 50, Rgba([0, 0, 0, 128]));
    let input = network_input(&encode(&DynamicImage::ImageRgba8(image), ImageFormat::Png), "alpha.png");
    // 0 * 128/255 + 255 * 127/255 = 127.
    assert_close(*input.get_pixel(50, 50), [127, 127, 127], 1, "50% black over white");
}

#[test]
fn animated_gif_uses_its_first_frame() {
    use image::codecs::gif::{GifEncoder, Repeat};
    let frame = |colour: [u8; 4]| image::Frame::new(RgbaImage::from_pixel(40, 40, Rgba(colour)));
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        encoder.encode_frames(vec![frame([200, 30, 30, 255]), frame([30, 200, 30, 255])]).unwrap();
    }
    let input = network_input(&bytes, "anim.gif");
    let pixel = input.get_pixel(50, 50);
    assert!(pixel[0] > 150 && pixel[1] < 80, "first (red) frame expected, got {pixel:?}");
}

/// A minimal EXIF APP1 payload with one tag: Orientation = `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(b"II*\0");
    exif.extend_from_slice(&8u32.to_le_bytes()); // first IFD right after the header
    exif.extend_from_slice(&1u16.to_le_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_le_bytes()); // count
    exif.extend_from_slice(&value.to_le_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    exif
}

/// A JPEG stored sideways (`width` x `height`, red in the bottom half, blue in the top) with EXIF
/// orientation 6, "rotate 90° clockwise to display": displayed, red is on the left.
fn sideways_jpeg(width: u16, height: u16, quality: u8) -> Vec<u8> {
    let stored =
        RgbImage::from_fn(
            width.into(),
            height.into(),
            |_, y| {
                if y >= u32::from(height) / 2 { Rgb([230, 20, 20]) } else { Rgb([20, 20, 230]) }
            },
        );
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, quality);
    encoder.add_app_segment(1, &exif_orientation(6)).unwrap();
    encoder.encode(stored.as_raw(), width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    bytes
}

#[test]
fn exif_orientation_is_applied() {
    let bytes = sideways_jpeg(120, 160, 95);
    let decoded = decode_image_bytes(&bytes, Path::new("rotated.jpg")).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (160, 120), "rotated to landscape");
    assert_red_left_blue_right(&network_input(&bytes, "rotated.jpg"), 12, "exif orientation 6");
}

#[test]
fn wrong_extension_does_not_matter() {
    let png = encode(&DynamicImage::ImageRgb8(two_colour(160, 120)), ImageFormat::Png);
    assert_red_left_blue_right(&network_input(&png, "really-a-png.jpg"), 0, "png named .jpg");
}

fn load_error(bytes: &[u8], name: &str) -> ImageInputError {
    let (_dir, path) = write_temp(bytes, name);
    let error = load_network_image(&path).expect_err(name);
    assert!(error.to_string().contains(name), "message names the file: {error}");
    error
}

#[test]
fn empty_file_is_refused() {
    assert!(matches!(load_error(b"", "empty.jpg"), ImageInputError::Empty { .. }));
}

#[test]
fn text_file_is_refused() {
    let error = load_error(b"hello, this is not a picture\n", "notes.png");
    assert!(matches!(error, ImageInputError::UnknownFormat { .. }), "{error}");
}

#[test]
fn truncated_files_are_refused() {
    let source = DynamicImage::ImageRgb8(two_colour(160, 120));
    for (format, name) in
        [(ImageFormat::Png, "cut.png"), (ImageFormat::Jpeg, "cut.jpg"), (ImageFormat::Gif, "cut.gif"), (ImageFormat::WebP, "cut.webp")]
    {
        let bytes = encode(&source, format);
        let error = load_error(&bytes[..bytes.len() / 3], name);
        assert!(matches!(error, ImageInputError::Corrupt { .. }), "{name}: {error}");
    }
}

#[test]
fn decompression_bomb_header_is_refused_before_decoding() {
    // A valid PNG signature and IHDR claiming 20000 x 20000 RGBA (1.6 GB decoded), no data.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&20_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(&ihdr);
    bytes.extend_from_slice(&common::crc32(&ihdr).to_be_bytes());
    // A short IDAT (a zlib stream header and some zeros) and IEND, as a real bomb would carry.
    for (kind, data) in [(&b"IDAT"[..], &[0x78u8, 0x9c, 0, 0, 0, 0, 0, 0][..]), (&b"IEND"[..], &[][..])] {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        bytes.extend_from_slice(&(data.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(&common::crc32(&chunk).to_be_bytes());
    }
    let error = load_error(&bytes, "bomb.png");
    assert!(matches!(error, ImageInputError::TooManyPixels { .. }), "{error}");
}

#[test]
fn missing_file_is_refused() {
    let error = load_network_image(Path::new("/nonexistent/folder/photo.jpg")).unwrap_err();
    assert!(matches!(error, ImageInputError::Io { .. }));
    assert!(error.to_string().contains("photo.jpg"));
}

#[test]
fn a_108_megapixel_phone_photo_is_accepted_reduced_and_oriented() {
    // 12000 x 9000, as a phone camera writes it, stored sideways (9000 wide, 12000 high).
    let bytes = sideways_jpeg(9000, 12000, 80);
    let decoded = decode_image_bytes(&bytes, Path::new("phone.jpg")).unwrap();
    let side = activation_atlas::engine::image_input::WORKING_SIDE;
    assert_eq!(decoded.width(), side, "reduced to the working size on its long side");
    assert_eq!(decoded.height(), side * 3 / 4, "aspect kept (4:3), landscape after the EXIF rotation");
    assert_red_left_blue_right(&network_input(&bytes, "phone.jpg"), 12, "108 MP JPEG");
}

#[test]
fn a_large_png_is_reduced_to_the_working_size() {
    let png = encode(&DynamicImage::ImageRgb8(two_colour(6000, 3000)), ImageFormat::Png);
    let decoded = decode_image_bytes(&png, Path::new("wide.png")).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (4096, 2048));
    assert_red_left_blue_right(&network_input(&png, "wide.png"), 0, "18 MP PNG");
}
