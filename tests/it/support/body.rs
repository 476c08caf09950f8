//! Large bodies that are never held whole: a deterministic byte pattern produced chunk by
//! chunk, and a running digest (length + FNV-1a 64) both ends compute while streaming, so
//! "arrived intact" is checked without buffering 50 MiB anywhere.

use std::sync::OnceLock;

use bytes::Bytes;
use futures::Stream;

/// Size of one pattern chunk.
const CHUNK: usize = 64 * 1024;
/// Distinct chunks cycled through, so a shifted or repeated chunk changes the digest.
const DISTINCT: usize = 7;

/// One MiB.
pub const MIB: u64 = 1024 * 1024;

fn chunks() -> &'static [Bytes] {
    static CHUNKS: OnceLock<Vec<Bytes>> = OnceLock::new();
    CHUNKS.get_or_init(|| {
        (0..DISTINCT)
            .map(|k| {
                (0..CHUNK)
                    .map(|j| ((j * 31 + k * 7) % 251) as u8)
                    .collect::<Vec<u8>>()
                    .into()
            })
            .collect()
    })
}

/// The `index`-th chunk of a pattern body of `len` bytes, or None past the end.
fn chunk(len: u64, index: u64) -> Option<Bytes> {
    let start = index * CHUNK as u64;
    (start < len).then(|| {
        let full = chunks()[(index % DISTINCT as u64) as usize].clone();
        full.slice(..(len - start).min(CHUNK as u64) as usize)
    })
}

/// The pattern body of `len` bytes as a stream of chunks.
pub fn pattern_stream(
    len: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::iter((0..).map_while(move |index| chunk(len, index)).map(Ok))
}

/// The pattern body of `len` bytes in one buffer (for bodies small enough to hold).
pub fn pattern_bytes(len: u64) -> Vec<u8> {
    let mut all = Vec::with_capacity(len as usize);
    (0..)
        .map_while(|index| chunk(len, index))
        .for_each(|c| all.extend_from_slice(&c));
    all
}

/// What a pattern body of `len` bytes digests to.
pub fn pattern_digest(len: u64) -> Digest {
    let mut digest = Digest::default();
    (0..)
        .map_while(|index| chunk(len, index))
        .for_each(|c| digest.update(&c));
    digest
}

/// Length and FNV-1a 64 of a byte stream, updated chunk by chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// Bytes seen.
    pub len: u64,
    /// FNV-1a 64 of the bytes seen.
    pub hash: u64,
}

impl Default for Digest {
    fn default() -> Digest {
        Digest {
            len: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }
}

impl Digest {
    /// Adds a chunk.
    pub fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        self.hash = bytes.iter().fold(self.hash, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    }

    /// The hash as the echo backend reports it.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.hash)
    }
}
