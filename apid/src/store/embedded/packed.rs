//! A raw sample's numbers packed in one BLOB: zigzag LEB128 varints, in column order.
//!
//! One column instead of one per field: reading a day of samples for a history is one
//! column read per row (SQLite's per-column cost dominated the query), and the size stays
//! what SQLite's own record format takes for small integers.

/// Packs `vals` (column order).
pub(super) fn pack(vals: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(vals.len() * 3);
    for &v in vals {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// Calls `f(i, value)` for each packed value, in column order. A truncated blob ends early
/// (the missing columns read as absent); at most `max` values are read.
pub(super) fn unpack(blob: &[u8], max: usize, mut f: impl FnMut(usize, i64)) {
    let mut i = 0;
    let mut z: u64 = 0;
    let mut shift = 0u32;
    for &b in blob {
        if i >= max {
            return;
        }
        if shift < 64 {
            z |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            f(i, ((z >> 1) as i64) ^ -((z & 1) as i64));
            i += 1;
            z = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_magnitude_and_sign() {
        let vals = [
            0,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            300,
            16_663_027_712,
            i64::MAX,
            i64::MIN,
            -123_456_789,
        ];
        let blob = pack(&vals);
        let mut back = Vec::new();
        unpack(&blob, vals.len(), |i, v| {
            assert_eq!(i, back.len());
            back.push(v);
        });
        assert_eq!(back, vals);
        assert_eq!(pack(&[0, 1, -1, 63]).len(), 4, "small values take one byte");
    }

    #[test]
    fn reads_at_most_max_and_stops_at_a_truncated_value() {
        let blob = pack(&[5, 6, 7]);
        let mut n = 0;
        unpack(&blob, 2, |_, _| n += 1);
        assert_eq!(n, 2);
        let blob = pack(&[5, 300]);
        let mut seen = Vec::new();
        unpack(&blob[..blob.len() - 1], 9, |i, v| seen.push((i, v)));
        assert_eq!(seen, [(0, 5)]);
    }
}
