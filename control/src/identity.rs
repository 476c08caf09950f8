//! Which file a path names: a store file is recognised by its device and inode, so a file
//! removed, replaced or renamed back under a running process can be told from the one it
//! opened. A leaf: the store and its errors both name it.

use std::os::unix::fs::MetadataExt;

/// Which file a path names: what a store file is recognised by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The device holding it.
    pub device: u64,
    /// Its inode on that device.
    pub inode: u64,
}

impl Identity {
    /// The identity of the file `metadata` describes.
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Identity {
        Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "device {} inode {}", self.device, self.inode)
    }
}
