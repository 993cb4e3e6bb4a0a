//! A private `dbus-daemon` for tests of real bus connections.

/// A private `dbus-daemon` listening on `<dir>/bus`, for tests of real bus connections.
/// Killed when dropped.
pub struct TestBus {
    child: std::process::Child,
    pub address: String,
}

impl TestBus {
    /// Start one; `None` when `dbus-daemon` is not installed.
    pub async fn start(dir: &std::path::Path) -> Option<Self> {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let socket = dir.join("bus");
        let _ = std::fs::remove_file(&socket);
        let config = dir.join("bus.conf");
        let text = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        );
        std::fs::write(&config, text).ok()?;
        let mut child = match Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("cannot start dbus-daemon: {e}"),
        };
        let stdout = child.stdout.take()?;
        // The address is printed once the daemon listens.
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .ok()?
        .ok()?;
        assert!(line.starts_with("unix:"), "dbus-daemon printed {line:?}");
        Some(Self {
            child,
            address: format!("unix:path={}", socket.display()),
        })
    }

    /// Kill the daemon: every connection to it breaks.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        self.stop();
    }
}
