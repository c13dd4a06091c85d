//! A file system of its own for the campaign cluster's WAL (a small tmpfs), so that the disk the
//! WAL is written to can be filled, safely, without touching the machine's. Mounting needs root
//! (or the capability to mount): without it the fault is skipped, and the report says so.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use dui_storage::cluster::PrivateCluster;

#[derive(Debug)]
pub struct WalDisk {
    mount: PathBuf,
    filler: PathBuf,
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

impl WalDisk {
    /// Moves the stopped-and-restarted cluster's WAL onto a tmpfs of `megabytes`.
    pub fn attach(cluster: &PrivateCluster, dir: &Path, megabytes: u64) -> anyhow::Result<Self> {
        let mount = dir.join("wal");
        std::fs::create_dir_all(&mount)?;
        run(Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"]).arg(&mount))?;
        let disk = Self { filler: mount.join("filler"), mount };
        cluster.stop()?;
        let wal = cluster.dir().join("data").join("pg_wal");
        run(Command::new("cp").arg("-a").arg(format!("{}/.", wal.display())).arg(&disk.mount))?;
        run(Command::new("chown").args(["-R", "postgres:"]).arg(&disk.mount))?;
        std::fs::remove_dir_all(&wal)?;
        std::os::unix::fs::symlink(&disk.mount, &wal)?;
        cluster.start()?;
        Ok(disk)
    }

    /// Fills what is left of the file system; returns the bytes written.
    pub fn fill(&self) -> anyhow::Result<u64> {
        let mut file = std::fs::File::create(&self.filler)?;
        let chunk = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(_) => break,
            }
        }
        let _ = file.sync_all();
        Ok(written)
    }

    pub fn free(&self) {
        let _ = std::fs::remove_file(&self.filler);
    }
}

impl Drop for WalDisk {
    fn drop(&mut self) {
        self.free();
        // Lazily: the cluster may still be running on it.
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}
