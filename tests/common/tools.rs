//! The external command-line tools of the `external-tools` tests: `promtool` and `prometheus`,
//! from Debian's `prometheus` package. A missing tool fails the test with the command that
//! installs it; nothing skips.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

/// Spawns `cmd`; panics when its program is not on PATH or cannot start.
pub fn spawn(cmd: &mut Command) -> Child {
    match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{}` was not found on PATH. The tests of the `external-tools` feature need it \
             (Debian package `prometheus`): run `scripts/install-test-deps.sh` and retry.",
            cmd.get_program().to_string_lossy()
        ),
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

/// Runs `promtool args` in `dir`, with `stdin` as its input when given: its exit status and its
/// stdout followed by its stderr. A non-zero exit is the caller's to judge: `check metrics` exits
/// 3 when it has findings.
pub fn promtool(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (ExitStatus, String) {
    let mut cmd = Command::new("promtool");
    cmd.args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(&mut cmd);
    // Written from another thread: promtool may answer before it has read everything.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input))
    });
    let out = child.wait_with_output().expect("promtool output");
    if let Some(w) = writer {
        w.join()
            .expect("stdin writer")
            .expect("write promtool's stdin");
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// Runs `promtool args` in `dir` and panics unless it exits 0: its stdout followed by its stderr.
pub fn promtool_ok(dir: &Path, args: &[&str]) -> String {
    let (status, text) = promtool(dir, args, None);
    assert!(
        status.success(),
        "promtool {args:?} (in {}) failed with {status}:\n{text}",
        dir.display()
    );
    text
}
