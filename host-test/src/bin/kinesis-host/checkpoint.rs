//! Checkpoints: where in its input file a run may resume without losing an
//! event. The checkpoint names the first line some target has not settled
//! (delivered, or failed for good), by byte offset and line number, in a file
//! identified by device, inode and a hash of its first bytes, so that a
//! different, truncated or rotated file is never resumed by mistake. It is
//! written whole and atomically (write, fsync, rename, fsync of the
//! directory) by a thread of its own, at most every [`SAVE_EVERY`] and at the
//! end of the run.

use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How many of a file's first bytes its identity hashes.
pub const HEAD_BYTES: u64 = 4096;
/// A checkpoint is saved at most this often while outcomes come in.
pub const SAVE_EVERY: Duration = Duration::from_millis(200);
/// What a checkpoint file says it is.
const KIND: &str = "kinesis-host checkpoint";
const VERSION: u32 = 1;
/// Rotated files that are compressed are never resumed in.
const COMPRESSED: [&str; 6] = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"];

/// Which file: device and inode, and the MD5 of its first `head_len` bytes
/// (at most [`HEAD_BYTES`]; fewer while the file was shorter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub head_len: u64,
    pub head_md5: String,
}

impl FileIdentity {
    /// The identity of an open file as it is now.
    pub fn of(file: &File) -> io::Result<Self> {
        let meta = file.metadata()?;
        let (dev, ino) = dev_ino(&meta);
        let head = read_head(file, HEAD_BYTES.min(meta.len()))?;
        Ok(Self {
            dev,
            ino,
            head_len: head.len() as u64,
            head_md5: format!("{:x}", md5::compute(&head)),
        })
    }

    /// Whether `file` still starts with the bytes this identity hashed.
    pub fn head_matches(&self, file: &File) -> io::Result<bool> {
        let head = read_head(file, self.head_len)?;
        Ok(head.len() as u64 == self.head_len && format!("{:x}", md5::compute(&head)) == self.head_md5)
    }

    pub fn same_inode(&self, meta: &fs::Metadata) -> bool {
        dev_ino(meta) == (self.dev, self.ino)
    }
}

#[cfg(unix)]
fn dev_ino(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn dev_ino(_: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Up to `len` bytes from the start of `file`, without moving its cursor.
fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; len as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }
    #[cfg(not(unix))]
    {
        use std::io::Read as _;
        let mut buf = Vec::new();
        file.try_clone()?.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

/// A checkpoint file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    pub kind: String,
    pub version: u32,
    /// `--input` as the run was given it, made absolute.
    pub input: String,
    /// The file the position is in, by the path it was read at (after a
    /// rotation it may be found at another name, by its identity).
    pub file: String,
    pub identity: FileIdentity,
    /// Byte offset of the first line not settled by every target (or of the
    /// next line to read when all were).
    pub offset: u64,
    /// That line's 1-based number in its file.
    pub line: u64,
    /// How far the run had read that file.
    pub size_seen: u64,
    /// The targets of the run that saved it.
    pub targets: Vec<String>,
    pub saved_unix_ms: u64,
}

impl Saved {
    pub fn new(input: &Path, file: &Path, identity: FileIdentity, offset: u64, line: u64) -> Self {
        Self {
            kind: KIND.into(),
            version: VERSION,
            input: input.display().to_string(),
            file: file.display().to_string(),
            identity,
            offset,
            line,
            size_seen: offset,
            targets: Vec::new(),
            saved_unix_ms: 0,
        }
    }
}

/// Reads a checkpoint; `None` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Saved>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read checkpoint {}: {e}", path.display())),
    };
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        format!(
            "checkpoint {}: not a kinesis-host checkpoint ({e}); remove it to read the input from the top",
            path.display()
        )
    })?;
    if saved.kind != KIND || saved.version != VERSION || saved.line == 0 {
        return Err(format!(
            "checkpoint {}: not a version {VERSION} kinesis-host checkpoint; remove it to read the input from the top",
            path.display()
        ));
    }
    Ok(Some(saved))
}

/// Where `pipelines: [checkpoint]` keeps the checkpoint of `input` for a run
/// of `targets` when `--checkpoint` does not say:
/// `$XDG_STATE_HOME/kinesis-host/NAME-HASH.checkpoint` (`~/.local/state` when
/// XDG_STATE_HOME is not set), HASH naming the absolute input path and the
/// target names, so another file or another set of targets never shares it.
pub fn default_path(input: &Path, targets: &[String]) -> Result<PathBuf, String> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local").join("state"))
        })
        .ok_or(
            "pipelines: [checkpoint] keeps its checkpoint under $XDG_STATE_HOME or $HOME/.local/state, and neither is set: pass --checkpoint FILE",
        )?;
    let mut key = absolute(input).display().to_string();
    for t in targets {
        key.push('\n');
        key.push_str(t);
    }
    let hash = format!("{:x}", md5::compute(key.as_bytes()));
    let name = input
        .file_name()
        .map_or("input".into(), |n| n.to_string_lossy().into_owned());
    Ok(state
        .join("kinesis-host")
        .join(format!("{name}-{}.checkpoint", &hash[..16])))
}

pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A file to read, from where.
pub struct Start {
    pub path: PathBuf,
    /// Open already (checked against the checkpoint); `None`: not there yet
    /// (`--follow` waits for it).
    pub file: Option<File>,
    pub offset: u64,
    /// Lines of the file before `offset`.
    pub lines_before: u64,
}

/// What reading starts with: the files in order (a rotated file to finish
/// first, then the input), and what the report says about it.
pub struct Plan {
    pub starts: Vec<Start>,
    /// The line the run resumes at, when a checkpoint applied.
    pub resumed_from_line: Option<u64>,
    /// The rotated file it resumes in, when not the input itself.
    pub resumed_in: Option<String>,
    /// Why a checkpoint found did not apply.
    pub reset: Option<String>,
}

/// Decides where to read from: at the checkpoint when it is for the file at
/// `input`; in a rotated sibling (`input.1`, `input-2024...`) holding the
/// checkpoint's file, then the input from its top; else from the top.
pub fn plan(input: &Path, saved: Option<&Saved>, follow: bool) -> Result<Plan, String> {
    let file = match File::open(input) {
        Ok(f) => Some(f),
        Err(e) if follow && e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read input {}: {e}", input.display())),
    };
    let fresh = |file: Option<File>, reset: Option<String>| Plan {
        starts: vec![Start {
            path: input.to_path_buf(),
            file,
            offset: 0,
            lines_before: 0,
        }],
        resumed_from_line: None,
        resumed_in: None,
        reset,
    };
    let Some(saved) = saved else {
        return Ok(fresh(file, None));
    };
    if let Some(f) = &file
        && fits(f, saved).unwrap_or(false)
    {
        let mut plan = fresh(file, None);
        plan.starts[0].offset = saved.offset;
        plan.starts[0].lines_before = saved.line - 1;
        plan.resumed_from_line = Some(saved.line);
        return Ok(plan);
    }
    if let Some((path, rotated)) = find_rotated(input, saved) {
        return Ok(Plan {
            starts: vec![
                Start {
                    path: path.clone(),
                    file: Some(rotated),
                    offset: saved.offset,
                    lines_before: saved.line - 1,
                },
                Start {
                    path: input.to_path_buf(),
                    file,
                    offset: 0,
                    lines_before: 0,
                },
            ],
            resumed_from_line: Some(saved.line),
            resumed_in: Some(path.display().to_string()),
            reset: None,
        });
    }
    let why = format!(
        "the checkpoint is for another file than {} now is (rotated, truncated or replaced, and not found beside it): reading it from the top",
        input.display()
    );
    Ok(fresh(file, Some(why)))
}

/// Whether `file` is the checkpoint's file and still holds its position.
fn fits(file: &File, saved: &Saved) -> io::Result<bool> {
    let meta = file.metadata()?;
    Ok(saved.identity.same_inode(&meta) && meta.len() >= saved.offset && saved.identity.head_matches(file)?)
}

/// The checkpoint's file under another name beside `input`: the same inode
/// (renamed), else, when the identity hashed some bytes, the same head (a
/// copy, as `copytruncate` leaves).
fn find_rotated(input: &Path, saved: &Saved) -> Option<(PathBuf, File)> {
    let dir = input
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = input.file_name()?.to_string_lossy().into_owned();
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&base) && name != base && !COMPRESSED.iter().any(|c| name.ends_with(c))
        })
        .map(|e| e.path())
        .collect();
    names.sort();
    let mut copy = None;
    for path in names {
        let Ok(file) = File::open(&path) else { continue };
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() || meta.len() < saved.offset || !saved.identity.head_matches(&file).unwrap_or(false) {
            continue;
        }
        if saved.identity.same_inode(&meta) {
            return Some((path, file));
        }
        if copy.is_none() && saved.identity.head_len > 0 {
            copy = Some((path, file));
        }
    }
    copy
}

/// Writes checkpoints on a thread of its own, the newest one each time.
pub struct Saver {
    pub path: PathBuf,
    tx: Option<mpsc::Sender<Saved>>,
    thread: Option<JoinHandle<Option<String>>>,
}

impl Saver {
    /// `sync` are files to fsync before each checkpoint (the dead letters,
    /// so a checkpoint never gets ahead of what they hold).
    pub fn start(path: PathBuf, sync: Vec<File>) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let (tx, rx) = mpsc::channel::<Saved>();
        let target = path.clone();
        let thread = std::thread::spawn(move || {
            let mut error = None;
            while let Ok(mut saved) = rx.recv() {
                while let Ok(newer) = rx.try_recv() {
                    saved = newer;
                }
                let result = sync
                    .iter()
                    .try_for_each(File::sync_data)
                    .and_then(|()| write_atomically(&target, &saved));
                if let Err(e) = result
                    && error.is_none()
                {
                    let message = format!("cannot save the checkpoint {}: {e}", target.display());
                    eprintln!("kinesis-host: {message}");
                    error = Some(message);
                }
            }
            error
        });
        Ok(Self {
            path,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn save(&self, saved: Saved) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(saved);
        }
    }

    /// Waits for the last checkpoint to be written; the first error, if any.
    pub fn finish(&mut self) -> Option<String> {
        drop(self.tx.take());
        self.thread
            .take()
            .and_then(|t| t.join().unwrap_or(Some("the checkpoint thread panicked".into())))
    }
}

fn write_atomically(path: &Path, saved: &Saved) -> io::Result<()> {
    let mut saved = saved.clone();
    saved.saved_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut bytes = serde_json::to_vec_pretty(&saved).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("checkpoint".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // The rename itself is durable once the directory is.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kh-ck-{tag}-{}-{}", std::process::id(), fastrand::u64(..)));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn saved_at(path: &Path, offset: u64, line: u64) -> Saved {
        let identity = FileIdentity::of(&File::open(path).unwrap()).unwrap();
        Saved::new(path, path, identity, offset, line)
    }

    #[test]
    fn resumes_in_the_same_file_and_not_in_another() {
        let dir = temp_dir("same");
        let input = dir.join("app.log");
        fs::write(&input, "one\ntwo\nthree\n").unwrap();
        let saved = saved_at(&input, 4, 2);
        let plan = plan(&input, Some(&saved), false).unwrap();
        assert_eq!(
            (plan.starts.len(), plan.starts[0].offset, plan.starts[0].lines_before),
            (1, 4, 1)
        );
        assert_eq!(plan.resumed_from_line, Some(2));

        // Replaced by another file (new inode, other content): from the top.
        fs::remove_file(&input).unwrap();
        fs::write(&input, "other\n").unwrap();
        let plan = super::plan(&input, Some(&saved), false).unwrap();
        assert_eq!((plan.starts.len(), plan.starts[0].offset), (1, 0));
        assert!(plan.reset.is_some() && plan.resumed_from_line.is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_renamed_file_is_finished_first_and_a_truncated_one_read_from_its_copy() {
        let dir = temp_dir("rotated");
        let input = dir.join("app.log");
        fs::write(&input, "one\ntwo\nthree\n").unwrap();
        let saved = saved_at(&input, 8, 3);
        // rename-and-create
        fs::rename(&input, dir.join("app.log.1")).unwrap();
        fs::write(&input, "new\n").unwrap();
        let plan = plan(&input, Some(&saved), false).unwrap();
        assert_eq!(plan.starts.len(), 2);
        assert_eq!(plan.starts[0].path, dir.join("app.log.1"));
        assert_eq!((plan.starts[0].offset, plan.starts[0].lines_before), (8, 2));
        assert_eq!((plan.starts[1].path.clone(), plan.starts[1].offset), (input.clone(), 0));

        // copytruncate: same inode, truncated; the copy has the old head.
        fs::remove_file(dir.join("app.log.1")).unwrap();
        fs::write(&input, "one\ntwo\nthree\n").unwrap();
        let saved = saved_at(&input, 8, 3);
        fs::copy(&input, dir.join("app.log.1")).unwrap();
        File::options().write(true).open(&input).unwrap().set_len(0).unwrap();
        let plan = super::plan(&input, Some(&saved), false).unwrap();
        assert_eq!(plan.starts.len(), 2);
        assert_eq!(plan.starts[0].path, dir.join("app.log.1"));
        assert_eq!(plan.starts[0].offset, 8);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = temp_dir("save");
        let input = dir.join("in.txt");
        fs::write(&input, "a\n").unwrap();
        let path = dir.join("sub").join("ck.json");
        let mut saver = Saver::start(path.clone(), Vec::new()).unwrap();
        saver.save(saved_at(&input, 0, 1));
        saver.save(saved_at(&input, 2, 2));
        assert_eq!(saver.finish(), None);
        let back = load(&path).unwrap().unwrap();
        assert_eq!((back.offset, back.line), (2, 2));
        assert!(!dir.join("sub").join(".ck.json.tmp").exists());
        fs::write(&path, "{}").unwrap();
        assert!(load(&path).is_err());
        assert_eq!(load(&dir.join("none")).unwrap(), None);
        fs::remove_dir_all(dir).unwrap();
    }
}
