//! Per-interface counters from `/proc/net/dev` (procfs-core's `InterfaceDeviceStatus`).

use procfs_core::FromRead;
use procfs_core::net::InterfaceDeviceStatus;

use super::NetInterface;

/// Parses a whole `/proc/net/dev`: every interface, `lo` included, sorted by name.
pub(crate) fn parse_net_dev(bytes: &[u8]) -> Result<Vec<NetInterface>, String> {
    let status = InterfaceDeviceStatus::from_read(bytes).map_err(|e| e.to_string())?;
    let mut interfaces: Vec<NetInterface> = status
        .0
        .into_values()
        .map(|d| NetInterface {
            name: d.name,
            rx_bytes: d.recv_bytes,
            tx_bytes: d.sent_bytes,
            rx_packets: d.recv_packets,
            tx_packets: d.sent_packets,
            rx_errors: d.recv_errs,
            tx_errors: d.sent_errs,
            rx_dropped: d.recv_drop,
            tx_dropped: d.sent_drop,
        })
        .collect();
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(interfaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &[u8] = b"Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 9876543     1234    0    0    0     0          0         0  9876543     1234    0    0    0     0       0          0
  ens3: 123456789012 98765432    1    2    0     0          0        10 98765432109 87654321    3    4    0     0       0          0
";

    #[test]
    fn reads_every_interface_with_its_counters() {
        let ifs = parse_net_dev(DEV).unwrap();
        assert_eq!(ifs.len(), 2);
        assert_eq!(
            ifs[0],
            NetInterface {
                name: "ens3".into(),
                rx_bytes: 123_456_789_012,
                tx_bytes: 98_765_432_109,
                rx_packets: 98_765_432,
                tx_packets: 87_654_321,
                rx_errors: 1,
                tx_errors: 3,
                rx_dropped: 2,
                tx_dropped: 4,
            }
        );
        assert_eq!(ifs[1].name, "lo");
        assert_eq!(ifs[1].rx_bytes, 9_876_543);
    }

    #[test]
    fn a_garbled_line_is_an_error() {
        let mut bad = DEV.to_vec();
        bad.extend_from_slice(b"  eth9: 1 2 3\n");
        assert!(parse_net_dev(&bad).is_err());
        assert_eq!(parse_net_dev(b"").unwrap(), vec![]);
    }
}
