//! A spool: bytes kept in a temporary file, sealed under a key that lives only in memory, and
//! read back once in the order written. A document's upload is received whole into a spool
//! before the database is asked for anything: a client on a slow link holds no connection of the
//! pool while its file arrives, and what the file says never reaches the disk in clear.
//!
//! The file is unlinked as soon as it is created (it has no name while in use, and nothing is
//! left behind by a crash); its pieces are sealed with AES-256-GCM under a fresh key, each with
//! its index as nonce, so that a piece altered, moved or dropped fails to open.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::{CryptoError, SecretKey};

/// The plaintext size of a piece.
pub const PIECE: usize = 64 * 1024;

/// What can go wrong with a spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn nonce(index: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&index.to_be_bytes());
    nonce
}

/// Bytes being written to a spool.
pub struct Spool {
    file: std::fs::File,
    cipher: Aes256Gcm,
    pending: Vec<u8>,
    pieces: u64,
    size: u64,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("size", &self.size).finish_non_exhaustive()
    }
}

impl Spool {
    /// A new, empty spool in `dir` (the system's temporary directory, usually).
    pub fn new(dir: &Path) -> Result<Self, SpoolError> {
        let key = SecretKey::generate()?;
        let cipher = Aes256Gcm::new_from_slice(key.as_bytes()).map_err(|e| CryptoError::InvalidKey(e.to_string()))?;
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|_| CryptoError::Random)?;
        let path = dir.join(format!(".dui-spool-{}", name.iter().map(|b| format!("{b:02x}")).collect::<String>()));
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(Self { file, cipher, pending: Vec::with_capacity(PIECE), pieces: 0, size: 0 })
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn seal_pending(&mut self) -> Result<(), SpoolError> {
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce(self.pieces)), self.pending.as_slice())
            .map_err(|_| CryptoError::Malformed)?;
        self.file.write_all(&(sealed.len() as u32).to_be_bytes())?;
        self.file.write_all(&sealed)?;
        self.pieces += 1;
        self.pending.clear();
        Ok(())
    }

    /// Appends bytes.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), SpoolError> {
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let taken = (PIECE - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..taken]);
            bytes = &bytes[taken..];
            if self.pending.len() == PIECE {
                self.seal_pending()?;
            }
        }
        Ok(())
    }

    /// Ends the writing: the bytes are read back from the start.
    pub fn finish(mut self) -> Result<SpoolReader, SpoolError> {
        if !self.pending.is_empty() {
            self.seal_pending()?;
        }
        self.file.flush()?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok(SpoolReader { file: std::io::BufReader::new(self.file), cipher: self.cipher, next: 0, pieces: self.pieces })
    }
}

/// A spool's bytes, read back in pieces.
pub struct SpoolReader {
    file: std::io::BufReader<std::fs::File>,
    cipher: Aes256Gcm,
    next: u64,
    pieces: u64,
}

impl std::fmt::Debug for SpoolReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolReader").field("next", &self.next).field("pieces", &self.pieces).finish()
    }
}

impl SpoolReader {
    /// The next piece (at most [`PIECE`] bytes), none after the last.
    pub fn next_piece(&mut self) -> Result<Option<Vec<u8>>, SpoolError> {
        if self.next == self.pieces {
            return Ok(None);
        }
        let mut length = [0u8; 4];
        self.file.read_exact(&mut length)?;
        let length = u32::from_be_bytes(length) as usize;
        if length > PIECE + 16 {
            return Err(CryptoError::Malformed.into());
        }
        let mut sealed = vec![0u8; length];
        self.file.read_exact(&mut sealed)?;
        let piece = self
            .cipher
            .decrypt(&Nonce::from(nonce(self.next)), sealed.as_slice())
            .map_err(|_| CryptoError::Tampered)?;
        self.next += 1;
        Ok(Some(piece))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_come_back_in_order_and_never_lie_in_clear_on_disk() {
        let dir = std::env::temp_dir().join(format!("dui-spool-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut spool = Spool::new(&dir).unwrap();
        let text = b"Directives anticip\xc3\xa9es de Mme Zebulonne ".repeat(5000);
        for part in text.chunks(7001) {
            spool.write(part).unwrap();
        }
        assert_eq!(spool.size(), text.len() as u64);
        // What the file holds is sealed.
        let mut raw = Vec::new();
        let mut file = spool.file.try_clone().unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut raw).unwrap();
        assert!(!raw.windows(9).any(|w| w == b"Zebulonne"));
        let mut reader = spool.finish().unwrap();
        let mut back = Vec::new();
        while let Some(piece) = reader.next_piece().unwrap() {
            assert!(piece.len() <= PIECE);
            back.extend(piece);
        }
        assert_eq!(back, text);
        assert!(reader.next_piece().unwrap().is_none());
        // Nothing named is left in the directory.
        let left = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".dui-spool-"));
        assert_eq!(left.count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_spool_reads_nothing_and_an_altered_piece_fails() {
        let mut reader = Spool::new(&std::env::temp_dir()).unwrap().finish().unwrap();
        assert!(reader.next_piece().unwrap().is_none());

        let mut spool = Spool::new(&std::env::temp_dir()).unwrap();
        spool.write(&[7u8; PIECE + 10]).unwrap();
        let mut file = spool.file.try_clone().unwrap();
        let mut reader = spool.finish().unwrap();
        // Flip a byte of the first piece's ciphertext.
        let mut byte = [0u8; 1];
        file.seek(SeekFrom::Start(10)).unwrap();
        file.read_exact(&mut byte).unwrap();
        file.seek(SeekFrom::Start(10)).unwrap();
        file.write_all(&[byte[0] ^ 1]).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        assert!(matches!(reader.next_piece(), Err(SpoolError::Crypto(CryptoError::Tampered))));
    }
}
