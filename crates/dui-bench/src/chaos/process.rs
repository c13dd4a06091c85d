//! The server under test as a child process that can be killed, terminated and started again
//! on the same address.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug)]
pub struct Dui {
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    pub base_url: String,
    client: reqwest::Client,
}

impl Dui {
    pub fn new(binary: PathBuf, port: u16, env: Vec<(String, String)>, log: PathBuf) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("an HTTP client");
        Self { binary, env, log, child: None, base_url: format!("http://127.0.0.1:{port}"), client }
    }

    /// Sets a variable of the server's environment, for its next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.remove_env(key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    /// Starts the server and waits until it is ready; returns how long that took.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.binary);
        command.arg("serve").env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let child = command.stdout(Stdio::null()).stderr(log).spawn().context("starting the server")?;
        self.child = Some(child);
        let deadline = started + Duration::from_secs(60);
        loop {
            if self.ready().await {
                return Ok(started.elapsed());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("the server exited ({status}); see {}", self.log.display());
            }
            if Instant::now() > deadline {
                bail!("the server did not become ready in 60 s; see {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn ready(&self) -> bool {
        matches!(self.client.get(format!("{}/readyz", self.base_url)).send().await, Ok(r) if r.status().is_success())
    }

    /// SIGKILL: the process ends at once, whatever it was doing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
    }

    /// Waits for the process to end, up to `limit`.
    pub async fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Dui {
    fn drop(&mut self) {
        self.kill();
    }
}
