//! Photos as they are sent: turned upright, downscaled to at most [`MAX_SIDE`] pixels, and
//! re-encoded as JPEG, which leaves every EXIF field (location, camera, time) behind; and a
//! small preview that travels in the message.
//!
//! Decoding and encoding are the `image` crate's (JPEG and PNG: what cameras, phones and
//! screenshots give). A sender's own file is decoded here; a receiver never decodes anything
//! but shows the JPEG it got.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use super::MAX_PREVIEW_BYTES;
use crate::error::{Error, Result};

/// Longest side of a sent photo: sharp on any phone or laptop screen, about 0.5–1 MB.
pub const MAX_SIDE: u32 = 2048;
const QUALITY: u8 = 82;
/// Longest side of the preview, and its quality: enough to recognise the photo at once.
const PREVIEW_SIDE: u32 = 160;
const PREVIEW_QUALITY: [u8; 4] = [60, 45, 30, 20];
/// Decoding bounds: a photo larger than this is not a photo (a decompression bomb).
const MAX_PIXELS_SIDE: u32 = 20_000;
const MAX_DECODE_BYTES: u64 = 1024 * 1024 * 1024;

/// A photo ready to send.
pub struct Prepared {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub preview: Vec<u8>,
}

/// Decodes, turns upright, downscales and re-encodes `bytes`.
pub fn prepare(bytes: &[u8]) -> Result<Prepared> {
    let not_a_photo =
        || Error::Invalid("this file is not a photo Hearth can read (JPEG or PNG)".into());
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_a_photo())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_SIDE);
    limits.max_image_height = Some(MAX_PIXELS_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| not_a_photo())?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|_| not_a_photo())?;
    img.apply_orientation(orientation);
    if img.width().max(img.height()) > MAX_SIDE {
        // `thumbnail` (area averaging in integers) is several times faster than a filtered
        // resize on a 12 MP photo, and as sharp at these ratios: the preview shows sooner.
        img = img.thumbnail(MAX_SIDE, MAX_SIDE);
    }
    let rgb = flatten(&img);
    let jpeg = encode(&rgb, QUALITY)?;
    let small = image::imageops::thumbnail(&rgb, thumb_w(&rgb), thumb_h(&rgb));
    let mut preview = Vec::new();
    for q in PREVIEW_QUALITY {
        preview = encode(&small, q)?;
        if preview.len() <= MAX_PREVIEW_BYTES {
            break;
        }
    }
    if preview.len() > MAX_PREVIEW_BYTES {
        preview.clear();
    }
    Ok(Prepared {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
        preview,
    })
}

fn thumb_w(img: &RgbImage) -> u32 {
    let (w, h) = img.dimensions();
    if w >= h {
        PREVIEW_SIDE.min(w)
    } else {
        (w * PREVIEW_SIDE / h.max(1)).max(1)
    }
}

fn thumb_h(img: &RgbImage) -> u32 {
    let (w, h) = img.dimensions();
    if h > w {
        PREVIEW_SIDE.min(h)
    } else {
        (h * PREVIEW_SIDE.min(w) / w.max(1)).max(1)
    }
}

/// JPEG has no transparency: a transparent screenshot is put on white, not black.
fn flatten(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = p[3] as u32;
        let mix = |c: u8| ((c as u32 * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

fn encode(img: &RgbImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(|e| Error::Invalid(format!("could not encode the photo: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG with an EXIF block (GPS position and camera) inserted after SOI.
    pub(crate) fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let plain = encode(&img, 90).unwrap();
        let mut tiff = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&[0, 1, 0x01, 0x0f, 0, 2, 0, 0, 0, 8]);
        tiff.extend_from_slice(b"GPSCAM\0\0\0\0\0\0");
        tiff.extend_from_slice(b"37.5665N,126.9780E secret-camera");
        let mut app1 = vec![0xff, 0xe1];
        app1.extend_from_slice(&((tiff.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(&tiff);
        [&plain[..2], &app1[..], &plain[2..]].concat()
    }

    #[test]
    fn photos_are_downscaled_stripped_and_previewed() {
        let original = jpeg_with_exif(3000, 1500);
        assert!(original.windows(7).any(|w| w == b"37.5665"));
        let p = prepare(&original).unwrap();
        assert_eq!((p.width, p.height), (2048, 1024));
        assert!(!p.jpeg.windows(7).any(|w| w == b"37.5665"), "location kept");
        assert!(!p.jpeg.windows(4).any(|w| w == b"Exif"), "EXIF kept");
        assert!(!p.preview.is_empty() && p.preview.len() <= MAX_PREVIEW_BYTES);
        let thumb = image::load_from_memory(&p.preview).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (160, 80));
        let small = prepare(&jpeg_with_exif(300, 600)).unwrap();
        assert_eq!((small.width, small.height), (300, 600));
    }

    #[test]
    fn what_is_not_a_photo_is_refused_in_words() {
        let e = prepare(b"hello, not an image").err().unwrap();
        assert!(e.to_string().contains("not a photo"), "{e}");
        let mut cut = jpeg_with_exif(100, 100);
        cut.truncate(200);
        assert!(prepare(&cut).is_err());
    }
}
