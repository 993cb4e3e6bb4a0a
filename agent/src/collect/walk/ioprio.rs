//! I/O priority of the walker threads (ioprio_set(2)).
//!
//! Neither rustix nor nix wraps `ioprio_set`, and the one crate that does (`ioprio` 0.2) pulls
//! in an old `nix`; the two calls are small enough to make here, with integers only.
#![allow(unsafe_code)]

use std::io;

use crate::config::IoPriority;

/// `IOPRIO_WHO_PROCESS`: `who` is a thread id, 0 = the calling thread.
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
const IOPRIO_CLASS_SHIFT: libc::c_int = 13;
const IOPRIO_CLASS_BE: libc::c_int = 2;
const IOPRIO_CLASS_IDLE: libc::c_int = 3;

/// The raw `ioprio` value for a configured priority; `None` for [`IoPriority::Normal`].
fn raw_value(priority: IoPriority) -> Option<libc::c_int> {
    match priority {
        IoPriority::BestEffortLow => Some((IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 7),
        IoPriority::Idle => Some(IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT),
        IoPriority::Normal => None,
    }
}

/// Set the I/O priority of the calling thread only ([`IoPriority::Normal`] leaves it as is).
pub fn set_current_thread_io_priority(priority: IoPriority) -> io::Result<()> {
    let Some(value) = raw_value(priority) else {
        return Ok(());
    };
    // SAFETY: ioprio_set(which, who, ioprio) takes three plain integers and reads or writes
    // no memory of ours; who = 0 names the calling thread, so no other thread is affected.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The raw `ioprio` value of the calling thread (class << 13 | level), as ioprio_get(2).
pub fn current_thread_io_priority() -> io::Result<u32> {
    // SAFETY: ioprio_get(which, who) takes two plain integers and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    u32::try_from(rc).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_applies_to_the_calling_thread_only() {
        let before = current_thread_io_priority().unwrap();
        let (low, idle) = std::thread::spawn(|| {
            set_current_thread_io_priority(IoPriority::BestEffortLow).unwrap();
            let low = current_thread_io_priority().unwrap();
            set_current_thread_io_priority(IoPriority::Idle).unwrap();
            (low, current_thread_io_priority().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(low, (2 << 13) | 7, "best-effort class, level 7");
        assert_eq!(idle >> 13, 3, "idle class");
        assert_eq!(current_thread_io_priority().unwrap(), before);
    }

    #[test]
    fn normal_leaves_the_thread_alone() {
        std::thread::spawn(|| {
            let before = current_thread_io_priority().unwrap();
            set_current_thread_io_priority(IoPriority::Normal).unwrap();
            assert_eq!(current_thread_io_priority().unwrap(), before);
        })
        .join()
        .unwrap();
    }
}
