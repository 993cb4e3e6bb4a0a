//! Mounted filesystems: `/proc/self/mountinfo` (procfs-core's `MountInfo`) filtered to real,
//! local filesystems, one per device, each measured with `statvfs` as `df -B1` does.
//!
//! Left out, and why:
//! - kernel and memory pseudo filesystems (proc, sysfs, cgroup*, tmpfs, devtmpfs, ...):
//!   they hold no disk space;
//! - `squashfs` (snap packages, live images): read-only images, always 100 % full;
//! - `overlay` other than `/`: container layers, whose space is that of the backing
//!   filesystem already listed (the overlay holding `/` in a container is kept);
//! - network filesystems (nfs, cifs, sshfs, 9p, ...): `statvfs` on an unreachable server can
//!   block for minutes, like `df -l` they are not measured;
//! - anything reporting zero blocks, as `df` hides "dummy" filesystems.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use procfs_core::process::MountInfo;

use super::Filesystem;

/// Filesystem types that hold no disk space.
const PSEUDO: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.portal",
    "fuse.snapfuse",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
];
/// Filesystems whose `statvfs` may block on the network.
const NETWORK: &[&str] = &[
    "9p",
    "afs",
    "ceph",
    "cifs",
    "davfs",
    "fuse.glusterfs",
    "fuse.rclone",
    "fuse.s3fs",
    "fuse.sshfs",
    "glusterfs",
    "lustre",
    "ncpfs",
    "nfs",
    "nfs4",
    "smb3",
    "smbfs",
];

/// A mount chosen to be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub mount_point: PathBuf,
    pub device: String,
    pub fs_type: String,
    majmin: String,
    /// The mount shows the filesystem's own root (not a bind mount of a subdirectory).
    whole: bool,
}

/// Parses a whole mountinfo, line by line: a malformed line is skipped and reported,
/// the others still count.
pub(crate) fn parse_mountinfo(bytes: &[u8]) -> (Vec<Mount>, Vec<String>) {
    let text = String::from_utf8_lossy(bytes);
    let mut mounts = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match MountInfo::from_line(line) {
            Ok(info) => mounts.push(Mount {
                mount_point: unescape(info.mount_point.as_os_str().as_bytes()),
                device: info
                    .mount_source
                    .map(|s| lossy(&unescape(s.as_bytes())))
                    .unwrap_or_default(),
                fs_type: info.fs_type,
                majmin: info.majmin,
                whole: info.root == "/",
            }),
            Err(e) => errors.push(format!("mountinfo line {}: {e}", n + 1)),
        }
    }
    (mounts, errors)
}

/// The mount that holds `/`: the last `/` entry (later mounts stack on top of earlier ones).
pub(crate) fn root_mount(mounts: &[Mount]) -> Option<&Mount> {
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/"))
}

/// The mounts worth measuring, one per device (`major:minor`), sorted by mount point.
/// For a device mounted several times the whole-filesystem mount with the shortest path wins
/// over bind mounts of subdirectories.
pub(crate) fn select(mounts: &[Mount]) -> Vec<Mount> {
    let root = root_mount(mounts);
    let mut chosen: Vec<Mount> = Vec::new();
    for m in mounts {
        let is_root = root == Some(m);
        let fs_type = m.fs_type.as_str();
        let skip = PSEUDO.contains(&fs_type) || NETWORK.contains(&fs_type) || fs_type == "overlay";
        // The filesystem holding `/` is always measured, whatever its type.
        if skip && !is_root {
            continue;
        }
        let rank = |x: &Mount| (!x.whole, x.mount_point.as_os_str().len());
        match chosen.iter_mut().find(|c| c.majmin == m.majmin) {
            Some(c) if rank(m) < rank(c) => *c = m.clone(),
            Some(_) => {}
            None => chosen.push(m.clone()),
        }
    }
    chosen.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    chosen
}

/// `statvfs` of `path`, figures as `df -B1` prints them.
pub(crate) fn measure(path: &Path, device: &str, fs_type: &str) -> Result<Filesystem, String> {
    let st = rustix::fs::statvfs(path).map_err(|e| format!("statvfs {}: {e}", path.display()))?;
    let unit = if st.f_frsize > 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    let total = st.f_blocks.saturating_mul(unit);
    let free = st.f_bfree.saturating_mul(unit);
    Ok(Filesystem {
        mount_point: lossy(path),
        device: device.to_owned(),
        fs_type: fs_type.to_owned(),
        total_bytes: total,
        free_bytes: free,
        available_bytes: st.f_bavail.saturating_mul(unit),
        used_bytes: total.saturating_sub(free),
        inodes_total: st.f_files,
        inodes_free: st.f_ffree,
        read_only: st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
    })
}

/// Undoes mountinfo's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` `\`).
fn unescape(raw: &[u8]) -> PathBuf {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let octal = raw.get(i + 1..i + 4).filter(|d| {
            raw[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3'
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4000k
26 25 0:23 / /dev/pts rw shared:3 - devpts devpts rw,gid=5,mode=620
27 22 0:24 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=812k
28 24 0:25 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw
29 22 8:2 / /var/www\\040sites rw,relatime shared:30 - ext4 /dev/sda2 rw
30 22 8:2 /site1 /srv/site1 rw,relatime shared:30 - ext4 /dev/sda2 rw
31 22 7:0 / /snap/core/123 ro shared:31 - squashfs /dev/loop0 ro
32 22 0:50 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw,lowerdir=x
33 22 0:51 / /mnt/nas rw - nfs4 nas:/export rw
34 22 8:3 / /boot/efi rw - vfat /dev/sda3 rw
35 22 8:1 /var/tmp /var/tmp rw shared:1 - ext4 /dev/sda1 rw
not a mountinfo line
";

    fn points(mounts: &[Mount]) -> Vec<String> {
        mounts.iter().map(|m| lossy(&m.mount_point)).collect()
    }

    #[test]
    fn keeps_one_real_local_filesystem_per_device() {
        let (mounts, errors) = parse_mountinfo(HOST.as_bytes());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("mountinfo line 15:"), "{errors:?}");
        let chosen = select(&mounts);
        assert_eq!(points(&chosen), ["/", "/boot/efi", "/var/www sites"]);
        assert_eq!(chosen[0].device, "/dev/sda1");
        assert_eq!(chosen[2].fs_type, "ext4");
    }

    #[test]
    fn a_whole_mount_wins_over_an_earlier_bind_mount_of_a_subdirectory() {
        let lines = "\
1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 8:2 /data/www /var/www rw - ext4 /dev/sdb1 rw
3 1 8:2 / /mnt/data rw - ext4 /dev/sdb1 rw
";
        let (mounts, _) = parse_mountinfo(lines.as_bytes());
        assert_eq!(points(&select(&mounts)), ["/", "/mnt/data"]);
    }

    #[test]
    fn a_container_keeps_its_overlay_root() {
        let lines = "\
500 400 0:60 / / rw - overlay overlay rw,lowerdir=a
501 500 0:61 / /proc rw - proc proc rw
502 500 8:1 /var/lib/x/hosts /etc/hosts rw - ext4 /dev/sda1 rw
";
        let (mounts, _) = parse_mountinfo(lines.as_bytes());
        let chosen = select(&mounts);
        assert_eq!(points(&chosen), ["/", "/etc/hosts"]);
        assert_eq!(root_mount(&mounts).unwrap().fs_type, "overlay");
    }

    #[test]
    fn the_last_root_entry_is_the_one_on_top() {
        let lines = "\
1 0 0:1 / / rw - rootfs rootfs rw
2 1 8:1 / / rw - ext4 /dev/vda rw
";
        let (mounts, _) = parse_mountinfo(lines.as_bytes());
        assert_eq!(root_mount(&mounts).unwrap().device, "/dev/vda");
        assert_eq!(points(&select(&mounts)), ["/"]);
    }

    #[test]
    fn unescapes_octal_sequences_only() {
        assert_eq!(
            unescape(b"/a\\040b\\011c\\134d"),
            PathBuf::from("/a b\tc\\d")
        );
        assert_eq!(unescape(b"/a\\09x\\"), PathBuf::from("/a\\09x\\"));
        assert_eq!(unescape(b"\\777"), PathBuf::from("\\777"));
    }

    #[test]
    fn measures_the_root_filesystem_like_df() {
        let fs = measure(Path::new("/"), "/dev/x", "ext4").unwrap();
        let st = rustix::fs::statvfs("/").unwrap();
        assert_eq!(fs.total_bytes, st.f_blocks * st.f_frsize);
        assert_eq!(fs.used_bytes, fs.total_bytes - fs.free_bytes);
        assert!(fs.available_bytes <= fs.free_bytes);
        assert!(measure(Path::new("/no/such/dir"), "", "").is_err());
    }
}
