//! EXIF: keeping only the copyright, for `metadata: copyright`.

pub(super) const TAG_COPYRIGHT: u16 = 0x8298;
pub(super) const TYPE_ASCII: u16 = 2;

/// An EXIF block (TIFF structure, as the JPEG APP1 segment holds it after `Exif\0\0`) with
/// only IFD0's Copyright tag, or `None` if it has none or cannot be read.
///
/// This is the closest honest reading of Cloudflare's `metadata=copyright` ("discard all
/// metadata except the EXIF copyright tag"): the tag is copied into a new, minimal block;
/// everything else (camera, GPS, dates, thumbnails, XMP) is dropped.
pub(crate) fn copyright_only(exif: &[u8]) -> Option<Vec<u8>> {
    let big = match exif.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = exif.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = exif.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    let value = (0..entries).find_map(|i| {
        // Offsets come from the file: checked, so a hostile block cannot overflow them.
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        if u16_at(entry)? != TAG_COPYRIGHT || u16_at(entry.checked_add(2)?)? != TYPE_ASCII {
            return None;
        }
        let count = usize::try_from(u32_at(entry.checked_add(4)?)?).ok()?;
        let start = if count <= 4 {
            entry.checked_add(8)?
        } else {
            usize::try_from(u32_at(entry.checked_add(8)?)?).ok()?
        };
        exif.get(start..start.checked_add(count)?)
    })?;
    // Big-endian TIFF: header, IFD0 at 8 with one entry and no next IFD, value after it.
    let count = u32::try_from(value.len()).ok()?;
    let mut out = Vec::with_capacity(26 + value.len());
    out.extend_from_slice(b"MM\0\x2a");
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&TAG_COPYRIGHT.to_be_bytes());
    out.extend_from_slice(&TYPE_ASCII.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    if value.len() <= 4 {
        let mut inline = [0u8; 4];
        inline[..value.len()].copy_from_slice(value);
        out.extend_from_slice(&inline);
        out.extend_from_slice(&0u32.to_be_bytes());
    } else {
        out.extend_from_slice(&26u32.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(value);
    }
    Some(out)
}
