//! `data get` against servers that misbehave, at the engine's download: one that sends its
//! headers and then nothing, a cancel during that silence, a 416 for a part that is complete, a
//! range answered from elsewhere, and what the request asks for (the bytes as stored).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use activation_atlas::engine::dataset_get::{GetError, NetLimits, download_within};

/// What a server does with one request (given its header lines, lower case): the bytes it
/// writes back, and whether it then keeps the connection open without a word.
type Answer = Box<dyn Fn(&[String]) -> (Vec<u8>, bool) + Send>;

/// A server on a free port answering each request with `answer`; the requests' headers are kept.
fn serve(answer: Answer) -> (String, Arc<Mutex<Vec<Vec<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/17flowers.tgz", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push(line.trim().to_ascii_lowercase());
            }
            seen.lock().unwrap().push(headers.clone());
            let (bytes, stall) = answer(&headers);
            let _ = stream.write_all(&bytes);
            if stall {
                // Silent, but open, for longer than any test waits.
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(600));
                    drop(stream);
                });
            }
        }
    });
    (url, requests)
}

fn quick() -> NetLimits {
    NetLimits { idle: Duration::from_secs(2), poll: Duration::from_millis(100), ..NetLimits::default() }
}

/// Runs a download on a thread; its result, or a failure of the test if it takes over `within`.
fn download_ending_within(url: &str, archive: &Path, cancel: Arc<AtomicBool>, within: Duration) -> Result<(), GetError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let (url, archive) = (url.to_string(), archive.to_path_buf());
    std::thread::spawn(move || {
        let _ = sender.send(download_within(&url, &archive, &mut |_| {}, &cancel, &quick()));
    });
    receiver.recv_timeout(within).expect("the download gave up in time")
}

fn headers_then_silence(length: usize) -> Answer {
    Box::new(move |_| (format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\nsome").into_bytes(), true))
}

#[test]
fn a_server_that_falls_silent_is_given_up_on_with_a_reason() {
    let (url, _) = serve(headers_then_silence(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let error = download_ending_within(&url, &dir.path().join("17flowers.tgz"), Arc::new(AtomicBool::new(false)), Duration::from_secs(30))
        .expect_err("given up on")
        .to_string();
    assert!(error.contains("sent nothing for 2 s after 4 bytes"), "{error}");
}

#[test]
fn a_cancel_during_a_silent_read_ends_the_download_at_once() {
    let (url, _) = serve(headers_then_silence(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let setter = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        setter.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // Well before the 2 s of silence it would otherwise wait.
    let result = download_ending_within(&url, &dir.path().join("17flowers.tgz"), cancel, Duration::from_millis(1500));
    assert!(matches!(result, Err(GetError::Cancelled)), "{result:?}");
}

fn whole(body: &'static [u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

const BODY: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

#[test]
fn a_416_for_a_complete_part_starts_again_and_the_bytes_are_asked_for_as_stored() {
    let (url, requests) = serve(Box::new(|headers| {
        let ranged = headers.iter().any(|h| h.starts_with("range:"));
        if ranged {
            (b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(), false)
        } else {
            (whole(BODY), false)
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("17flowers.tgz");
    std::fs::write(dir.path().join("17flowers.tgz.part"), BODY).unwrap();
    download_ending_within(&url, &archive, Arc::new(AtomicBool::new(false)), Duration::from_secs(30)).expect("downloaded");
    assert_eq!(std::fs::read(&archive).unwrap(), BODY);
    let requests = requests.lock().unwrap();
    assert!(requests.iter().all(|h| h.contains(&"accept-encoding: identity".to_string())), "{requests:?}");
}

#[test]
fn a_range_answered_from_another_offset_is_not_appended_to_the_part() {
    // The part holds 10 bytes; the server answers 206 but from byte 0.
    let (url, _) = serve(Box::new(|headers| {
        if headers.iter().any(|h| h.starts_with("range:")) {
            let mut out = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                BODY.len() - 1,
                BODY.len(),
                BODY.len()
            )
            .into_bytes();
            out.extend_from_slice(BODY);
            (out, false)
        } else {
            (whole(BODY), false)
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("17flowers.tgz");
    std::fs::write(dir.path().join("17flowers.tgz.part"), &BODY[..10]).unwrap();
    download_ending_within(&url, &archive, Arc::new(AtomicBool::new(false)), Duration::from_secs(30)).expect("downloaded");
    assert_eq!(std::fs::read(&archive).unwrap(), BODY, "the archive is the server's file, not a part with it appended");
}

#[test]
fn ctrl_c_stops_data_get_during_a_silent_download_with_exit_code_130() {
    use std::process::{Command, Stdio};
    let (url, requests) = serve(headers_then_silence(1_000_000));
    let work = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_activation-atlas"))
        .args(["data", "get", "flowers17", "--from", &url, "--dir"])
        .arg(work.path().join("flowers17"))
        .env("ACTIVATION_ATLAS_CACHE", work.path().join("cache"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the server has the request, the download waits on a silent connection.
    let asked = std::time::Instant::now();
    while requests.lock().unwrap().is_empty() {
        assert!(asked.elapsed() < Duration::from_secs(30), "the request never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let interrupted = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if interrupted.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("data get did not stop within 10 s of Ctrl-C while the server was silent");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
}

#[test]
fn a_resumed_download_names_its_file_by_if_range_and_a_changed_file_is_fetched_whole() {
    // First answer: version 1 of the file (strong ETag "v1"), cut after 10 bytes. Second: the
    // file has changed to version 2, so an If-Range of "v1" gets all of version 2 (200).
    const NEW: &[u8] = b"ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210";
    let answered = Arc::new(Mutex::new(0usize));
    let count = answered.clone();
    let (url, requests) = serve(Box::new(move |headers| {
        let mut count = count.lock().unwrap();
        *count += 1;
        if *count == 1 {
            let mut out =
                format!("HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", BODY.len()).into_bytes();
            out.extend_from_slice(&BODY[..10]);
            return (out, false);
        }
        let if_range = headers.iter().find_map(|h| h.strip_prefix("if-range:")).map(|v| v.trim().to_string());
        if if_range.as_deref() == Some("\"v2\"") {
            // (Not reached: the part is of v1.)
            return (b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n".to_vec(), false);
        }
        let mut out = format!("HTTP/1.1 200 OK\r\nETag: \"v2\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", NEW.len()).into_bytes();
        out.extend_from_slice(NEW);
        (out, false)
    }));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("17flowers.tgz");
    let first = download_ending_within(&url, &archive, Arc::new(AtomicBool::new(false)), Duration::from_secs(30));
    assert!(first.is_err(), "the cut download fails");
    assert_eq!(std::fs::read(dir.path().join("17flowers.tgz.part")).unwrap(), &BODY[..10]);
    download_ending_within(&url, &archive, Arc::new(AtomicBool::new(false)), Duration::from_secs(30)).expect("downloaded");
    let requests = requests.lock().unwrap();
    let second = &requests[1];
    assert!(second.contains(&"range: bytes=10-".to_string()), "{second:?}");
    assert!(second.contains(&"if-range: \"v1\"".to_string()), "the part's file is named: {second:?}");
    assert_eq!(std::fs::read(&archive).unwrap(), NEW, "the new file whole, not v1's start with v2's rest");
    assert!(!dir.path().join("17flowers.tgz.part.validator").exists(), "nothing is left beside the archive");
}
