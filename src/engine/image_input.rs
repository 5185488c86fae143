//! The one way a user's file becomes network input. Classification, training and the atlas all
//! call [`load_network_image`], so an image is decoded, oriented, flattened onto white and resized
//! identically everywhere.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage, imageops::FilterType};
use tch::{Kind, Tensor};

use super::model::INPUT_SIZE;

/// Files larger than this are refused before reading (a 100 MP 16-bit TIFF is about 600 MB).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Images with more pixels than this are refused before decoding (decompression bombs); a
/// 200 MP phone photo is within it.
pub const MAX_PIXELS: u64 = 250_000_000;
/// Neither side may exceed this many pixels (long panoramas are within it).
pub const MAX_SIDE: u32 = 50_000;
/// Bytes the decoder may allocate (a 250 MP RGB picture needs 750 MB).
const MAX_DECODER_ALLOC: u64 = 1280 * 1024 * 1024;
/// Pictures are kept at most this many pixels on their longer side once decoded: the network
/// takes 100x100 and previews and overlays fit a screen, so memory stays bounded for any photo.
/// Large JPEGs are decoded at 1/2, 1/4 or 1/8 size directly (DCT scaling).
pub const WORKING_SIDE: u32 = 4096;

/// Why a file could not be used as an image.
#[derive(Debug, thiserror::Error)]
pub enum ImageInputError {
    #[error("cannot open {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is empty (0 bytes)")]
    Empty { path: PathBuf },
    #[error("{path} is too large to be an image ({bytes} bytes; the limit is {MAX_FILE_BYTES})")]
    FileTooLarge { path: PathBuf, bytes: u64 },
    #[error("{path} is not an image in a supported format (JPEG, PNG, BMP, GIF, WebP, TIFF, ...)")]
    UnknownFormat { path: PathBuf },
    #[error("{path} is {width} x {height} pixels, larger than this app accepts ({MAX_PIXELS} pixels, {MAX_SIDE} per side)")]
    TooManyPixels { path: PathBuf, width: u32, height: u32 },
    #[error("{path} has no pixels ({width} x {height})")]
    NoPixels { path: PathBuf, width: u32, height: u32 },
    #[error("{path} is damaged or truncated: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

impl ImageInputError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ImageInputError::Io { path, .. }
            | ImageInputError::Empty { path }
            | ImageInputError::FileTooLarge { path, .. }
            | ImageInputError::UnknownFormat { path }
            | ImageInputError::TooManyPixels { path, .. }
            | ImageInputError::NoPixels { path, .. }
            | ImageInputError::Corrupt { path, .. } => path,
        }
    }
}

/// Reads and decodes an image file at full resolution, EXIF orientation applied.
pub fn decode_image_file(path: &Path) -> Result<DynamicImage, ImageInputError> {
    let io_error = |source| ImageInputError::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::metadata(path).map_err(io_error)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(ImageInputError::FileTooLarge { path: path.to_path_buf(), bytes });
    }
    let data = super::fsutil::read_user_file(path, MAX_FILE_BYTES).map_err(io_error)?;
    decode_image_bytes(&data, path)
}

/// Decodes image bytes (named `path` in messages), EXIF orientation applied. The format is
/// recognised from the content, so a wrong file extension does not matter.
pub fn decode_image_bytes(data: &[u8], path: &Path) -> Result<DynamicImage, ImageInputError> {
    let path_buf = || path.to_path_buf();
    if data.is_empty() {
        return Err(ImageInputError::Empty { path: path_buf() });
    }
    let reader =
        ImageReader::new(Cursor::new(data)).with_guessed_format().map_err(|source| ImageInputError::Io { path: path_buf(), source })?;
    if reader.format().is_none() {
        return Err(ImageInputError::UnknownFormat { path: path_buf() });
    }
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_scan_is_complete(data) {
        // The JPEG decoder fills a cut-off scan with grey; such a picture would mislead training.
        return Err(ImageInputError::Corrupt { path: path_buf(), reason: "the JPEG data ends before the picture does".to_string() });
    }
    let is_jpeg = reader.format() == Some(image::ImageFormat::Jpeg);
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    let corrupt = |error: image::ImageError| classify_decode_error(error, path);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageInputError::NoPixels { path: path_buf(), width, height });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageInputError::TooManyPixels { path: path_buf(), width, height });
    }
    // A missing or unreadable EXIF block is not worth refusing the picture for.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let scaled = if is_jpeg { decode_jpeg_reduced(data, width, height) } else { None };
    let mut image = match scaled {
        Some(image) => image,
        None => DynamicImage::from_decoder(decoder).map_err(corrupt)?,
    };
    if image.width().max(image.height()) > WORKING_SIDE {
        image = image.thumbnail(WORKING_SIDE, WORKING_SIDE);
    }
    image.apply_orientation(orientation);
    Ok(image)
}

/// A JPEG larger than [`WORKING_SIDE`] decoded at the smallest DCT scale (1/2, 1/4 or 1/8) that
/// still covers it, so a 108 MP photo never exists at full size in memory. None where scaling
/// does not apply (small enough, CMYK, 16-bit) or the decoder objects: the full decode then
/// runs and reports any damage as usual.
fn decode_jpeg_reduced(data: &[u8], width: u32, height: u32) -> Option<DynamicImage> {
    let fit = f64::from(WORKING_SIDE) / f64::from(width.max(height));
    if fit > 0.5 {
        return None;
    }
    let requested = |side: u32| u16::try_from((f64::from(side) * fit).ceil() as u32).ok();
    let (requested_width, requested_height) = (requested(width)?, requested(height)?);
    // The scaling decoder panics on some malformed headers; a user's file must never crash the
    // app, so a panic just means "decode the usual way".
    std::panic::catch_unwind(|| {
        let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(data));
        decoder.set_max_decoding_buffer_size(MAX_DECODER_ALLOC as usize);
        decoder.scale(requested_width, requested_height).ok()?;
        let pixels = decoder.decode().ok()?;
        let info = decoder.info()?;
        let (w, h) = (u32::from(info.width), u32::from(info.height));
        match info.pixel_format {
            jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
            jpeg_decoder::PixelFormat::L8 => image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
            _ => None,
        }
    })
    .ok()
    .flatten()
}

/// Whether a JPEG's image data is followed by its end marker: walks the segments from the start
/// to the first scan (so markers inside an EXIF thumbnail are skipped), then looks for FF D9 after
/// it. Entropy-coded data never contains FF D9 (an FF there is followed by 00 or a restart marker).
fn jpeg_scan_is_complete(data: &[u8]) -> bool {
    let mut at = 2; // after SOI
    while at + 1 < data.len() {
        if data[at] != 0xFF {
            return false;
        }
        let marker = data[at + 1];
        match marker {
            0xFF => at += 1, // fill byte
            0x01 | 0xD0..=0xD7 => at += 2,
            0xD9 => return true,
            0xDA => return data[at + 2..].windows(2).any(|pair| pair == [0xFF, 0xD9]),
            _ => {
                let Some(length) = data.get(at + 2..at + 4).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
                    return false;
                };
                at += 2 + length;
            }
        }
    }
    false
}

fn classify_decode_error(error: image::ImageError, path: &Path) -> ImageInputError {
    match error {
        image::ImageError::Limits(_) => ImageInputError::TooManyPixels { path: path.to_path_buf(), width: 0, height: 0 },
        image::ImageError::Unsupported(reason) => {
            ImageInputError::Corrupt { path: path.to_path_buf(), reason: format!("unsupported: {reason}") }
        }
        other => ImageInputError::Corrupt { path: path.to_path_buf(), reason: other.to_string() },
    }
}

/// Flattens transparency onto white and converts to 8-bit RGB.
pub fn flatten_on_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, pixel) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(pixel[3]);
        for c in 0..3 {
            // Integer "over" onto white, rounded.
            out[c] = ((u32::from(pixel[c]) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
        }
    }
    rgb
}

/// Resizes a decoded image to the network's square input (the paper squashes, it does not crop).
pub fn to_network_image(image: &DynamicImage) -> RgbImage {
    to_network_image_sized(image, INPUT_SIZE)
}

/// [`to_network_image`] for a network whose input is `side` x `side`; a picture already that
/// size is used as it is.
pub fn to_network_image_sized(image: &DynamicImage, side: i64) -> RgbImage {
    let side = side as u32;
    let rgb = flatten_on_white(image);
    if rgb.dimensions() == (side, side) {
        return rgb;
    }
    image::imageops::resize(&rgb, side, side, FilterType::Triangle)
}

/// Reads any supported image file and returns it as the network's 100x100 RGB input.
pub fn load_network_image(path: &Path) -> Result<RgbImage, ImageInputError> {
    decode_image_file(path).map(|image| to_network_image(&image))
}

/// [`load_network_image`] for a network whose input is `side` x `side`.
pub fn load_network_image_sized(path: &Path, side: i64) -> Result<RgbImage, ImageInputError> {
    decode_image_file(path).map(|image| to_network_image_sized(&image, side))
}

/// Stacks network inputs (square RGB images of one size, 100x100 for the paper's CNN) into a
/// float tensor [N, 3, S, S] with values in [0, 1].
pub fn images_to_tensor<'a>(images: impl IntoIterator<Item = &'a RgbImage>) -> Tensor {
    let mut bytes = Vec::new();
    let mut count = 0i64;
    let mut size = (INPUT_SIZE as u32, INPUT_SIZE as u32);
    for image in images {
        if count == 0 {
            size = image.dimensions();
        }
        debug_assert_eq!(image.dimensions(), size);
        bytes.extend_from_slice(image.as_raw());
        count += 1;
    }
    let (width, height) = (i64::from(size.0), i64::from(size.1));
    Tensor::from_slice(&bytes).view([count, height, width, 3]).permute([0, 3, 1, 2]).to_kind(Kind::Float) / 255.0
}

/// Stacks equally sized RGB images of any size into [N, 3, H, W] in [0, 1] (icons, patches).
pub fn images_to_tensor_any<'a>(images: impl IntoIterator<Item = &'a RgbImage>) -> Tensor {
    let mut bytes = Vec::new();
    let (mut count, mut size) = (0i64, (0i64, 0i64));
    for image in images {
        size = (i64::from(image.height()), i64::from(image.width()));
        bytes.extend_from_slice(image.as_raw());
        count += 1;
    }
    Tensor::from_slice(&bytes).view([count, size.0, size.1, 3]).permute([0, 3, 1, 2]).to_kind(Kind::Float) / 255.0
}

/// Converts a [3, H, W] tensor with values in [0, 1] back to an RGB image (for previews and PNGs).
pub fn tensor_to_rgb(image: &Tensor) -> RgbImage {
    let image = image.detach().to_device(tch::Device::Cpu);
    let size = image.size();
    let (height, width) = (size[1], size[2]);
    let bytes = (image.clamp(0.0, 1.0) * 255.0).round().to_kind(Kind::Uint8).permute([1, 2, 0]).contiguous().flatten(0, -1);
    let mut data = vec![0u8; (height * width * 3) as usize];
    let len = data.len();
    bytes.copy_data(&mut data, len);
    RgbImage::from_raw(width as u32, height as u32, data).expect("buffer sized to the tensor")
}
