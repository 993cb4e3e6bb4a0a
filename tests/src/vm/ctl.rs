//! `twoine-agent ctl` as a real process: what an operator types, what they read back.
#![allow(clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest a single ctl invocation may take before the test fails (a start/stop job included).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);

/// How to reach the agent: its binary (the client is the same executable) and its socket.
#[derive(Debug, Clone)]
pub struct Ctl {
    bin: PathBuf,
    socket: PathBuf,
    /// `setpriv` arguments that run the client as another user; empty for the current user.
    setpriv: Vec<String>,
}

/// One finished invocation.
#[derive(Debug)]
pub struct CtlOutput {
    /// The command line, for failure messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ctl {
    /// From `TWOINE_AGENT_BIN` and `TWOINE_AGENT_SOCKET` (default `/run/twoine/agent.sock`).
    pub fn from_env() -> Self {
        let bin = std::env::var_os("TWOINE_AGENT_BIN")
            .map(PathBuf::from)
            .expect("TWOINE_AGENT_BIN must name the twoine-agent binary (see tests/vm/)");
        let socket = std::env::var_os("TWOINE_AGENT_SOCKET")
            .map_or_else(|| PathBuf::from("/run/twoine/agent.sock"), PathBuf::from);
        Self {
            bin,
            socket,
            setpriv: Vec::new(),
        }
    }

    /// The socket path the client dials.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// The same client run as `user` with primary group `group` (names or numbers), through
    /// `setpriv`. `init_groups` keeps the user's supplementary groups; otherwise none.
    pub fn as_user(&self, user: &str, group: &str, init_groups: bool) -> Self {
        let groups = if init_groups {
            "--init-groups"
        } else {
            "--clear-groups"
        };
        Self {
            setpriv: vec![
                format!("--reuid={user}"),
                format!("--regid={group}"),
                groups.to_string(),
                "--".to_string(),
            ],
            ..self.clone()
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if self.setpriv.is_empty() {
            Command::new(&self.bin)
        } else {
            let mut c = Command::new("setpriv");
            c.args(&self.setpriv).arg(&self.bin);
            c
        };
        cmd.arg("ctl")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .env_remove("TWOINE_AGENT_SOCKET")
            .stdin(Stdio::null());
        cmd
    }

    fn describe(&self, args: &[&str]) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.setpriv.is_empty() {
            parts.push("setpriv".into());
            parts.extend(self.setpriv.iter().cloned());
        }
        parts.push("twoine-agent ctl".into());
        parts.extend(args.iter().map(|a| a.to_string()));
        parts.join(" ")
    }

    /// Run `ctl ARGS` to completion (at most [`CALL_TIMEOUT`]).
    pub fn run(&self, args: &[&str]) -> CtlOutput {
        let command = self.describe(args);
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let mut out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + CALL_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for ctl") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{command}` did not finish within {CALL_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        CtlOutput {
            command,
            status,
            stdout: out_reader.join().unwrap_or_default(),
            stderr: err_reader.join().unwrap_or_default(),
        }
    }

    /// Run `ctl ARGS`, require exit status 0, and parse its JSON answer.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "`{}` failed ({}): {}",
            out.command,
            out.status,
            out.stderr
        );
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}):\n{}", out.command, out.stdout))
    }

    /// Run `ctl ARGS`, require a failure, and return its stderr (trimmed).
    pub fn error(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "`{}` should have failed but printed:\n{}",
            out.command,
            out.stdout
        );
        out.stderr.trim().to_string()
    }

    /// Start `ctl watch ARGS` in the background; its lines arrive on [`Watch::next`].
    pub fn spawn_watch(&self, args: &[&str]) -> Watch {
        let mut full = vec!["watch"];
        full.extend_from_slice(args);
        let command = self.describe(&full);
        let mut child = self
            .command(&full)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Watch {
            command,
            child,
            lines: rx,
        }
    }
}

/// A running `ctl watch`; killed when dropped.
#[derive(Debug)]
pub struct Watch {
    command: String,
    child: Child,
    lines: Receiver<(Instant, String)>,
}

impl Watch {
    /// The next event and when this test received it; `None` when nothing came within `wait` or
    /// the client exited.
    pub fn next(&mut self, wait: Duration) -> Option<(Instant, Value)> {
        match self.lines.recv_timeout(wait) {
            Ok((at, line)) => {
                let event = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!(
                        "`{}` printed a line that is not JSON ({e}): {line}",
                        self.command
                    )
                });
                Some((at, event))
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// What the client wrote on stderr so far (after killing it), for failure messages.
    pub fn finish(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `value[key]`, which must be present (the JSON shape is part of the contract); may be null.
pub fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("no field `{key}` in {value}"))
}

/// A present, non-null unsigned integer field.
pub fn u64_field(value: &Value, key: &str) -> u64 {
    field(value, key)
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not an unsigned integer in {value}"))
}

/// A present string field.
pub fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    field(value, key)
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {value}"))
}

/// A present optional integer field: `None` when null.
pub fn opt_u64_field(value: &Value, key: &str) -> Option<u64> {
    let v = field(value, key);
    if v.is_null() {
        return None;
    }
    Some(
        v.as_u64().unwrap_or_else(|| {
            panic!("`{key}` is neither null nor an unsigned integer in {value}")
        }),
    )
}

/// A present array field.
pub fn array_field<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    field(value, key)
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array in {value}"))
}
