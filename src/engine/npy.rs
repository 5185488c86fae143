//! Writing float32 arrays as NumPy `.npy` files (format version 1.0), so a map saved by the CLI
//! opens with `numpy.load` as the same numbers.

use std::path::Path;

/// The bytes of a C-order little-endian float32 `.npy` file of `shape` holding `values`.
pub fn npy_bytes(shape: &[usize], values: &[f32]) -> Vec<u8> {
    debug_assert_eq!(shape.iter().product::<usize>(), values.len());
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    // A one-element tuple needs its trailing comma in Python syntax.
    let shape_text = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of
    // 64 bytes and ended by a newline, as the format asks.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + values.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for value in values {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}

/// Writes `values` of `shape` to `path` as `.npy`, atomically.
pub fn write_npy(path: &Path, shape: &[usize], values: &[f32]) -> std::io::Result<()> {
    super::fsutil::write_atomically(path, &npy_bytes(shape, values))
}

#[cfg(test)]
mod tests {
    use super::npy_bytes;

    #[test]
    fn the_header_is_aligned_and_the_data_follows_it() {
        let bytes = npy_bytes(&[2, 3], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), "{header}");
        assert!(header.ends_with('\n'));
        assert_eq!(bytes.len(), 10 + header_len + 24);
        assert_eq!(f32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap()), 5.0);
        let single = npy_bytes(&[4], &[0.0; 4]);
        assert!(single.windows(13).any(|w| w == b"'shape': (4,)"));
    }
}
