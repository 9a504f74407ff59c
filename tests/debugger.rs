//! `--enable-debugger`: an exception in the app opens pdb on warp's terminal (driven here
//! through a pty), and the debugger is refused where there is no terminal to open it on.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::pty::openpty;

use crate::rawhttp::get;
use crate::running::Server;
use crate::util::Sandbox;

/// What the terminal showed so far, and news of more.
type Screen = Arc<(Mutex<Vec<u8>>, Condvar)>;

/// Wait until the terminal shows `text` (after `from` bytes); returns where it ends.
fn wait_for_screen(screen: &Screen, text: &str, from: usize) -> usize {
    let (shown, more) = &**screen;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut guard = shown.lock().unwrap();
    loop {
        if let Some(at) = String::from_utf8_lossy(&guard[from.min(guard.len())..]).find(text) {
            return from + at + text.len();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the terminal never showed {text:?}:\n{}", String::from_utf8_lossy(&guard));
        guard = more.wait_timeout(guard, left).unwrap().0;
    }
}

#[test]
fn an_exception_in_the_app_opens_pdb_on_the_terminal_and_its_client_gets_500_after() {
    let app = Sandbox::built_from("events");
    let pty = openpty(None, None).unwrap();
    let server = Server::launch_on_terminal(app.warp(&["start", "--enable-debugger"]), &pty.slave, app.root());
    drop(pty.slave);
    let port = server.port;
    let screen: Screen = Arc::default();
    let mut terminal = std::fs::File::from(pty.master);
    let mut reader = terminal.try_clone().unwrap();
    let shown = screen.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = reader.read(&mut chunk) {
            if n == 0 {
                break;
            }
            let (text, more) = &*shown;
            text.lock().unwrap().extend_from_slice(&chunk[..n]);
            more.notify_all();
        }
    });
    // One process of one thread, whatever the settings say.
    let at = wait_for_screen(&screen, "1 process(es) x 1 thread(s)", 0);

    let client = std::thread::spawn(move || get(port, "/fail"));
    let at = wait_for_screen(&screen, "(Pdb) ", at);
    // The app's frame is there to look at.
    terminal.write_all(b"p environ['PATH_INFO'] * 2\n").unwrap();
    let at = wait_for_screen(&screen, "'/fail/fail'", at);
    // No request timeout cuts a session short: the watchdog looks four times a second.
    terminal.write_all(b"p __import__('time').sleep(1.5) or 'still here'\n").unwrap();
    wait_for_screen(&screen, "'still here'", at);
    assert!(!client.is_finished(), "the client waits while the app is debugged");
    terminal.write_all(b"q\n").unwrap();
    assert_eq!(client.join().unwrap().status, 500, "the request ends once the debugger is left");

    assert!(server.stop().success());
}

#[test]
fn the_debugger_is_refused_without_a_terminal_for_later_and_for_other_servers() {
    let app = Sandbox::built_from("events");
    // The test's own output is not a terminal.
    let no_terminal = app.fails(&["start", "--enable-debugger"], 2);
    assert!(no_terminal.contains("--enable-debugger") && no_terminal.contains("not a terminal"), "{no_terminal}");
    let later = app.fails(&["start", "--enable-debugger", "--setup-only", "--server-root", "srv"], 2);
    assert!(later.contains("cannot be set up for later"), "{later}");
    let other = app.fails(&["start", "--enable-debugger", "--server", "gunicorn", "--port", "8000"], 2);
    assert!(other.contains("needs warp's embedded server"), "{other}");
}
