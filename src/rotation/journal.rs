//! The rotation journal: which step an interrupted rotation reached.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A new secret for the same client, given by the user.
    Secret,
    /// A new API client created through the API; the old one is deleted.
    ReplaceClient,
}

/// Steps in the order they happen. Each is written once its work is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The journal exists; nothing else has been done.
    Started,
    /// About to create the new client (replace-client).
    Creating,
    /// The new credentials are in the store as pending.
    PendingStored,
    /// The datacenter accepted the new credentials.
    Verified,
    /// The profile uses the new credentials.
    Promoted,
    /// The old client is deleted (replace-client).
    OldDeleted,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Started => "started",
            Step::Creating => "creating",
            Step::PendingStored => "pending-stored",
            Step::Verified => "verified",
            Step::Promoted => "promoted",
            Step::OldDeleted => "old-deleted",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    pub v: u32,
    pub mode: Mode,
    pub step: Step,
    pub started_at: String,
    pub updated_at: String,
    pub old_client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_client_name: Option<String>,
}

pub struct JournalFile {
    path: PathBuf,
}

impl JournalFile {
    pub fn new(state_dir: PathBuf, profile: &str) -> Self {
        JournalFile { path: state_dir.join("rotation").join(format!("{profile}.json")) }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn load(&self) -> Result<Option<Journal>> {
        let bytes = match fsutil::read_no_follow(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read the rotation journal", &self.path, e)),
        };
        match serde_json::from_slice::<Journal>(&bytes) {
            Ok(j) if j.v == 1 => Ok(Some(j)),
            _ => Err(Error::unexpected(format!("the rotation journal {} is not readable", self.path.display()))
                .with_hint("inspect it; `acronis-cred status` shows the profile, and deleting the file forgets the rotation")),
        }
    }

    pub fn save(&self, journal: &Journal) -> Result<()> {
        let text = serde_json::to_vec_pretty(journal)
            .map_err(|e| Error::unexpected(format!("cannot serialise the rotation journal: {e}")))?;
        fsutil::write_atomically(&self.path, &text)
    }

    pub fn remove(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove the rotation journal", &self.path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = JournalFile::new(dir.path().to_path_buf(), "p");
        assert!(file.load().unwrap().is_none());
        let j = Journal {
            v: 1,
            mode: Mode::ReplaceClient,
            step: Step::PendingStored,
            started_at: "t".into(),
            updated_at: "t".into(),
            old_client_id: "old".into(),
            new_client_id: Some("new".into()),
            tenant_id: None,
            new_client_name: None,
        };
        file.save(&j).unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(text.contains("\"pending-stored\"") && text.contains("\"replace-client\""), "{text}");
        let back = file.load().unwrap().unwrap();
        assert_eq!(back.step, Step::PendingStored);
        std::fs::write(file.path(), "{").unwrap();
        assert!(file.load().is_err());
        file.remove().unwrap();
        file.remove().unwrap();
        assert!(Step::Started < Step::Promoted);
    }
}
