//! `/proc/meminfo`, by hand.
//!
//! procfs-core's `Meminfo` was not used: it requires some twenty fields the agent never
//! reads (so a kernel that drops one would fail the whole section), and it slices each key at
//! its last *byte*, which panics on a key ending in a multi-byte character (see the test
//! `procfs_core_meminfo_panics_on_a_multibyte_key`). This parser reads the seven fields it
//! needs and ignores every other line.

use super::Memory;

/// Parses a whole `/proc/meminfo` into bytes (the kernel's `kB` are KiB).
///
/// `MemTotal`, `MemFree`, `Buffers`, `Cached`, `SwapTotal` and `SwapFree` are required (every
/// kernel since 2.6 prints them, so a missing one means a truncated read). `MemAvailable`
/// (Linux 3.14+) falls back to `MemFree + Buffers + Cached`, what `free` showed before it.
pub(crate) fn parse_meminfo(bytes: &[u8]) -> Result<Memory, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
    let mut fields: [Option<u64>; 7] = [None; 7];
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let Some(slot) = FIELDS.iter().position(|&f| f == key.trim()) else {
            continue;
        };
        fields[slot] = Some(parse_kib(key.trim(), value)?);
    }
    let get = |i: usize| fields[i].ok_or_else(|| format!("no {} line", FIELDS[i]));
    let (free, buffers, cached) = (get(FREE)?, get(BUFFERS)?, get(CACHED)?);
    Ok(Memory {
        total_bytes: get(TOTAL)?,
        free_bytes: free,
        available_bytes: match fields[AVAILABLE] {
            Some(v) => v,
            None => free.saturating_add(buffers).saturating_add(cached),
        },
        cached_bytes: cached,
        buffers_bytes: buffers,
        swap_total_bytes: get(SWAP_TOTAL)?,
        swap_free_bytes: get(SWAP_FREE)?,
    })
}

const FIELDS: [&str; 7] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapTotal",
    "SwapFree",
];
const TOTAL: usize = 0;
const FREE: usize = 1;
const AVAILABLE: usize = 2;
const BUFFERS: usize = 3;
const CACHED: usize = 4;
const SWAP_TOTAL: usize = 5;
const SWAP_FREE: usize = 6;

/// `"   16318504 kB"` → bytes.
fn parse_kib(key: &str, value: &str) -> Result<u64, String> {
    let mut words = value.split_ascii_whitespace();
    let bad = || format!("bad {key} value {:?}", value.trim());
    let number: u64 = words.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    match (words.next(), words.next()) {
        (Some("kB"), None) => number.checked_mul(1024).ok_or_else(bad),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &[u8] = b"MemTotal:       24589120 kB\nMemFree:         1197344 kB\n\
        MemAvailable:   20260392 kB\nBuffers:          662772 kB\nCached:         17539632 kB\n\
        SwapCached:            0 kB\nSwapTotal:       1000444 kB\nSwapFree:        1000444 kB\n\
        HugePages_Total:       0\nHugepagesize:       2048 kB\n";

    #[test]
    fn reads_the_seven_figures_in_bytes() {
        let m = parse_meminfo(DEBIAN).unwrap();
        assert_eq!(
            m,
            Memory {
                total_bytes: 24_589_120 * 1024,
                free_bytes: 1_197_344 * 1024,
                available_bytes: 20_260_392 * 1024,
                cached_bytes: 17_539_632 * 1024,
                buffers_bytes: 662_772 * 1024,
                swap_total_bytes: 1_000_444 * 1024,
                swap_free_bytes: 1_000_444 * 1024,
            }
        );
    }

    #[test]
    fn an_old_kernel_without_memavailable_gets_free_plus_buffers_plus_cached() {
        let old = b"MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n\
            SwapTotal: 0 kB\nSwapFree: 0 kB\n";
        assert_eq!(parse_meminfo(old).unwrap().available_bytes, 420 * 1024);
    }

    #[test]
    fn a_truncated_or_garbled_meminfo_is_an_error() {
        let truncated = b"MemTotal:       24589120 kB\nMemFree:         1197344 kB\nMemAva";
        assert_eq!(parse_meminfo(truncated).unwrap_err(), "no Buffers line");
        let garbage = b"MemTotal: lots kB\nMemFree: 1 kB\n";
        assert!(parse_meminfo(garbage).unwrap_err().contains("MemTotal"));
        let huge = b"MemTotal: 99999999999999999999 kB\n";
        assert!(parse_meminfo(huge).is_err());
        let overflow = b"MemTotal: 18446744073709551615 kB\n";
        assert!(parse_meminfo(overflow).is_err());
        assert!(parse_meminfo(b"\xff\xfe").is_err());
        // An unknown key ending in a multi-byte character is simply ignored.
        let mut odd = DEBIAN.to_vec();
        odd.extend_from_slice("Mé: 5 kB\n".as_bytes());
        assert!(parse_meminfo(&odd).is_ok());
    }

    #[test]
    fn procfs_core_meminfo_panics_on_a_multibyte_key() {
        use procfs_core::FromRead;
        let input = "MemTotal: 1 kB\né 5\n".as_bytes();
        let outcome = std::panic::catch_unwind(|| procfs_core::Meminfo::from_read(input).is_err());
        assert!(outcome.is_err());
    }
}
