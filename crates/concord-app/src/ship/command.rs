//! Running a step's command: an argument vector (`sh -c` only when the
//! configuration says `shell = true`), in the repo, its output handed on
//! line by line and its last lines kept, killed after its timeout.

use concord_ship::model::Command as Cmd;
use concord_ship::plan as ship_plan;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a command ended.
pub(super) struct RunResult {
    /// Its exit code; `None` when killed (by a signal or the timeout).
    pub exit: Option<i32>,
    /// Its last [`ship_plan::TAIL_LINES`] lines of output.
    pub tail: Vec<String>,
    pub timed_out: bool,
}

/// The command as the user could run it, `{version}` filled in.
pub(super) fn shown(command: &Cmd, version: Option<&str>) -> String {
    argv_of(command, version).join(" ")
}

fn argv_of(command: &Cmd, version: Option<&str>) -> Vec<String> {
    command
        .argv
        .iter()
        .map(|a| match version {
            Some(v) => a.replace("{version}", v),
            None => a.clone(),
        })
        .collect()
}

/// Why a command has no exit status.
#[derive(Debug)]
pub(super) enum RunError {
    /// It could not be started (not found, not executable): it did nothing.
    NotStarted(String),
    /// It started but could not be waited for: what it did is unknown.
    Lost(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NotStarted(why) | RunError::Lost(why) => f.write_str(why),
        }
    }
}

/// Run `command` in `dir`, every line of its stdout and stderr handed to
/// `on_line` as it comes; `Err` when it cannot be started or waited for.
pub(super) fn run_command(
    command: &Cmd,
    dir: &Path,
    version: Option<&str>,
    on_line: &(dyn Fn(&str) + Sync),
) -> Result<RunResult, RunError> {
    let argv = argv_of(command, version);
    let mut child = spawn(command.shell, &argv, dir).map_err(RunError::NotStarted)?;
    let tail = Mutex::new(VecDeque::new());
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    let (status, timed_out) = std::thread::scope(|scope| {
        let readers: Vec<_> = streams
            .into_iter()
            .flatten()
            .map(|stream| scope.spawn(|| read_lines(stream, on_line, &tail)))
            .collect();
        let waited = wait(&mut child, command.timeout, &argv);
        for reader in readers {
            let _ = reader.join();
        }
        waited
    })
    .map_err(RunError::Lost)?;
    let tail = tail
        .into_inner()
        .map(|t| t.into_iter().collect())
        .unwrap_or_default();
    Ok(RunResult {
        exit: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        tail,
        timed_out,
    })
}

fn spawn(shell: bool, argv: &[String], dir: &Path) -> Result<Child, String> {
    let mut process = if shell {
        let mut p = std::process::Command::new("sh");
        p.arg("-c").arg(argv.join(" "));
        p
    } else {
        let Some((program, args)) = argv.split_first() else {
            return Err("empty command".into());
        };
        let program = if program.contains('/') && !Path::new(program).is_absolute() {
            dir.join(program).display().to_string()
        } else {
            program.clone()
        };
        let mut p = std::process::Command::new(program);
        p.args(args);
        p
    };
    process
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))
}

/// Hand every line of `stream` on and keep the last ones in `tail`.
fn read_lines(
    stream: Box<dyn Read + Send>,
    on_line: &(dyn Fn(&str) + Sync),
    tail: &Mutex<VecDeque<String>>,
) {
    for line in BufReader::new(stream).lines().map_while(Result::ok) {
        on_line(&line);
        if let Ok(mut tail) = tail.lock() {
            tail.push_back(line);
            if tail.len() > ship_plan::TAIL_LINES {
                tail.pop_front();
            }
        }
    }
}

/// Wait for `child`, killing it after `timeout`: its status (if any) and
/// whether it was killed for taking too long.
fn wait(
    child: &mut Child,
    timeout: Duration,
    argv: &[String],
) -> Result<(Option<ExitStatus>, bool), String> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok((Some(status), false)),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                return Ok((child.wait().ok(), true));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                // Nothing can be told about it any more: stop it, so its
                // output ends and the readers finish.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting for {}: {e}", argv.join(" ")));
            }
        }
    }
}
