//! A server under test: started on a free port, its stderr kept in a file, and killed with
//! its workers if a test fails before stopping it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::Sandbox;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    stderr: PathBuf,
    stdout: PathBuf,
}

impl Server {
    /// `warp ARGS --port P` in the sandbox's app folder.
    pub fn start(sandbox: &Sandbox, args: &[&str]) -> Server {
        let port = free_port();
        let port_text = port.to_string();
        let mut args = args.to_vec();
        args.extend_from_slice(&["--port", &port_text]);
        Server::spawn(sandbox.warp(&args), port, sandbox.root())
    }

    /// Run `cmd`, which listens on `port`, with its output in files under `logs`; returns
    /// once the port accepts connections.
    pub fn spawn(mut cmd: Command, port: u16, logs: &Path) -> Server {
        let stderr = logs.join(format!("server-{port}.err"));
        let stdout = logs.join(format!("server-{port}.out"));
        cmd.stdout(std::fs::File::create(&stdout).unwrap()).stderr(std::fs::File::create(&stderr).unwrap()).stdin(Stdio::null());
        cmd.process_group(0);
        let child = cmd.spawn().expect("start the server");
        let server = Server { child, port, stderr, stdout };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start:\n{}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What the server wrote to stdout so far (the access log).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Wait until the log contains `text`.
    pub fn wait_for_log(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(text) {
            assert!(Instant::now() < deadline, "the log never said {text:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// SIGTERM, then the exit status (within the shutdown timeout and a margin).
    pub fn stop(self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.exit_within(Duration::from_secs(15))
    }

    /// The exit status, once the server has ended by itself within `limit`.
    pub fn exit_within(mut self, limit: Duration) -> ExitStatus {
        self.wait_within(limit)
    }

    /// `exit_within` that keeps the server's logs readable afterwards.
    pub fn wait_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
