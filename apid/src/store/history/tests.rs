use chrono::{TimeZone, Utc};

use super::*;

const COLS: &[Col] = &[
    Col::mean("cpu", "cpu.percent"),
    Col::last("net", "network.bytesIn"),
];

fn acc(n: f64, ts: f64, cpu: f64, net: f64, peak: f64) -> Acc {
    Acc {
        n,
        ts_sum: ts,
        vals: vec![cpu, net],
        peaks: [peak, 0.0, 0.0],
        extra: (),
    }
}

fn window(from_ms: i64, to_ms: i64) -> Window {
    Window {
        from: Utc.timestamp_millis_opt(from_ms).unwrap(),
        to: Utc.timestamp_millis_opt(to_ms).unwrap(),
    }
}

#[test]
fn merge_sums_means_keeps_the_largest_counter_and_peak() {
    let mut a = acc(2.0, 10.0, 30.0, 100.0, 20.0);
    a.merge(acc(1.0, 8.0, 30.0, 90.0, 25.0), COLS);
    assert_eq!(a, acc(3.0, 18.0, 60.0, 100.0, 25.0));
    assert_eq!(a.value(COLS, 0), 20.0, "mean");
    assert_eq!(a.value(COLS, 1), 100.0, "last");
    assert_eq!(a.ts(), 6);
}

#[test]
fn a_plan_refuses_an_empty_window_or_no_point_and_rounds_the_width_up() {
    assert!(Plan::new(window(10, 10), 5).is_err());
    assert!(Plan::new(window(10, 20), 0).is_err());
    let p = Plan::new(window(0, 1000), 3).unwrap();
    assert_eq!((p.from, p.to, p.width), (0, 1000, 334));
}

#[test]
fn raw_samples_alone_serve_the_whole_window() {
    let p = Plan::new(window(RES_1H, 3 * RES_1H), 10).unwrap();
    let r = p.ranges(Some(0), None, None);
    assert_eq!(r.raw, (RES_1H, 3 * RES_1H));
    assert!(r.rollups.is_empty());
}

#[test]
fn roll_ups_serve_what_is_older_than_the_raw_samples_finest_first() {
    // Raw from 10 h, 5-minute roll-ups from 4 h, hourly from 0.
    let p = Plan::new(window(0, 12 * RES_1H), 12).unwrap();
    let r = p.ranges(Some(10 * RES_1H), Some(4 * RES_1H), Some(0));
    assert_eq!(r.raw, (10 * RES_1H, 12 * RES_1H));
    assert_eq!(
        r.rollups,
        [(RES_5M, 4 * RES_1H, 10 * RES_1H), (RES_1H, 0, 4 * RES_1H)]
    );
}

#[test]
fn buckets_merge_by_key_and_come_out_ascending_without_empty_ones() {
    let mut b = Buckets::new();
    b.add(2, acc(1.0, 5.0, 10.0, 1.0, 10.0), COLS);
    b.add(0, acc(0.0, 0.0, 0.0, 0.0, 0.0), COLS);
    b.add(1, acc(1.0, 3.0, 4.0, 1.0, 4.0), COLS);
    b.add(2, acc(1.0, 7.0, 20.0, 2.0, 20.0), COLS);
    let points = b.points();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].ts(), 3);
    assert_eq!(points[1], acc(2.0, 12.0, 30.0, 2.0, 20.0));
}
