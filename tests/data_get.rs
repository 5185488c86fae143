//! `activation-atlas data get flowers17`, run as a user would, against a generated archive of the
//! official layout (1,360 small JPEGs under jpg/), served by a small HTTP server on 127.0.0.1 that
//! can cut its first answer short, and read from a local file.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use activation_atlas::engine::dataset_get::{FLOWERS17_CLASSES, FLOWERS17_PER_CLASS};
use activation_atlas::engine::fsutil::sha256_hex;

use common::text;

fn app(args: &[&str], cache: &Path) -> Output {
    common::cli().args(args).env("ACTIVATION_ATLAS_CACHE", cache).output().expect("the binary runs")
}

/// `app` with `--sha256` of `archive`: a generated archive stands in for the published one.
fn app_accepting(archive: &[u8], args: &[&str], cache: &Path) -> Output {
    let sha256 = sha256_hex(archive);
    let args: Vec<&str> = args.iter().copied().chain(["--sha256", sha256.as_str()]).collect();
    app(&args, cache)
}

/// Serves `body` at http://127.0.0.1:PORT/17flowers.tgz for a few requests; the first answer
/// stops after `cut_first_at` bytes when given. Records each request's Range header.
fn serve(body: Vec<u8>, cut_first_at: Option<usize>) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/17flowers.tgz", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().take(4).enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut range = None;
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("range:") {
                    range = Some(value.trim().to_string());
                }
            }
            seen.lock().unwrap().push(range.clone());
            let start = range.as_deref().and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse::<usize>().ok());
            let (status, part) = match start {
                Some(start) => {
                    (format!("206 Partial Content\r\nContent-Range: bytes {start}-{}/{}", body.len() - 1, body.len()), &body[start..])
                }
                None => ("200 OK".to_string(), &body[..]),
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", part.len());
            let sent = match (i, cut_first_at) {
                (0, Some(cut)) => &part[..cut],
                _ => part,
            };
            let _ = stream.write_all(sent);
        }
    });
    (url, ranges)
}

/// Every class folder holds its 80 images, numbered as in the archive.
fn assert_sorted(dir: &Path) {
    for (class_index, class) in FLOWERS17_CLASSES.iter().enumerate() {
        let files: Vec<PathBuf> = std::fs::read_dir(dir.join(class)).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), FLOWERS17_PER_CLASS, "{class}");
        let first = class_index * FLOWERS17_PER_CLASS + 1;
        assert!(dir.join(class).join(format!("image_{first:04}.jpg")).is_file(), "{class} starts at image {first}");
    }
    assert!(dir.join("daffodil/image_0001.jpg").is_file() && dir.join("pansy/image_1360.jpg").is_file());
}

#[test]
fn from_a_local_file_the_images_are_sorted_into_17_class_folders() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("17flowers.tgz");
    let archive = common::flowers17_archive(1360);
    std::fs::write(&file, &archive).unwrap();
    let out = work.path().join("flowers17");
    let output = app_accepting(
        &archive,
        &["data", "get", "flowers17", "--from", file.to_str().unwrap(), "--dir", out.to_str().unwrap()],
        work.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("1360 images in 17 class folders"), "{}", text(&output.stdout));
    assert_sorted(&out);
    // The folder is a data set training reads.
    let dataset = activation_atlas::engine::data::load_dataset(&out, None, &|_, _| {}, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    assert_eq!(dataset.class_names.len(), 17);
    assert_eq!(dataset.len(), 1360);
    // A second run into the same folder is refused rather than mixing files.
    let again = app_accepting(
        &archive,
        &["data", "get", "flowers17", "--from", file.to_str().unwrap(), "--dir", out.to_str().unwrap()],
        work.path(),
    );
    assert!(!again.status.success() && text(&again.stderr).contains("already holds files"), "{}", text(&again.stderr));
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let work = tempfile::tempdir().unwrap();
    let body = common::flowers17_archive(1360);
    let cut = body.len() * 2 / 5;
    let (url, ranges) = serve(body.clone(), Some(cut));
    let out = work.path().join("flowers17");
    let args = ["data", "get", "flowers17", "--from", url.as_str(), "--dir", out.to_str().unwrap()];
    let first = app_accepting(&body, &args, work.path());
    assert!(!first.status.success(), "the cut download fails");
    assert!(text(&first.stderr).contains("run again to resume"), "{}", text(&first.stderr));
    let partial = work.path().join("downloads/17flowers.tgz.part");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), cut as u64, "what arrived is kept");
    assert!(!out.exists(), "no half data set");
    let second = app_accepting(&body, &args, work.path());
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(ranges.lock().unwrap().as_slice(), [None, Some(format!("bytes={cut}-"))], "the second request asked for the rest");
    assert_eq!(std::fs::read(work.path().join("downloads/17flowers.tgz")).unwrap(), body, "the pieces make the archive");
    assert_sorted(&out);
}

#[test]
fn a_wrong_or_damaged_archive_is_refused_with_its_name() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("flowers17");
    // Not gzip at all.
    let noise = work.path().join("noise.tgz");
    std::fs::write(&noise, b"this is not an archive at all").unwrap();
    // The right layout but only 100 of the images.
    let short = work.path().join("short.tgz");
    std::fs::write(&short, common::flowers17_archive(100)).unwrap();
    // Cut in the middle.
    let cut = work.path().join("cut.tgz");
    let full = common::flowers17_archive(1360);
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    // Each accepted by its own SHA-256, so what is tested is the check after it.
    for (file, expected) in [(&noise, "gzip stream is damaged"), (&short, "holds 100 of the 1360 images"), (&cut, "gzip stream is damaged")]
    {
        let bytes = std::fs::read(file).unwrap();
        let args = ["data", "get", "flowers17", "--from", file.to_str().unwrap(), "--dir", out.to_str().unwrap()];
        let output = app_accepting(&bytes, &args, work.path());
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{} was accepted", file.display());
        assert!(stderr.contains(&file.display().to_string()) && stderr.contains(expected), "{stderr}");
        assert!(!out.exists(), "nothing is left behind for {}", file.display());
    }
    let unknown = app(&["data", "get", "mnist"], work.path());
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("flowers17"));
}

#[test]
fn the_archive_is_checked_against_its_sha256_and_gzip_crc_before_anything_is_unpacked() {
    use activation_atlas::engine::dataset_get::{FLOWERS17_SHA256, GetProgress, Source, get_flowers17};
    let work = tempfile::tempdir().unwrap();
    let (out, downloads) = (work.path().join("flowers17"), work.path().join("downloads"));
    let never = std::sync::atomic::AtomicBool::new(false);
    let archive = common::flowers17_archive(1360);
    let own = sha256_hex(&archive);
    let file = work.path().join("look-alike.tgz");
    std::fs::write(&file, &archive).unwrap();
    let get = |file: &Path, sha256: &str| {
        let mut events = Vec::new();
        let got = get_flowers17(&Source::File(file.to_path_buf()), &out, &downloads, sha256, &mut |e| events.push(e), &never);
        let unpacked = events.iter().any(|e| matches!(e, GetProgress::Unpacking { .. }));
        let checked = events.iter().filter_map(|e| if let GetProgress::Checking { done, .. } = e { Some(*done) } else { None }).max();
        (got, unpacked, checked)
    };

    // Against the published archive's SHA-256 a file of the right layout is refused, unopened.
    let (got, unpacked, checked) = get(&file, FLOWERS17_SHA256);
    let message = got.expect_err("a look-alike is refused").to_string();
    assert!(message.contains("look-alike.tgz") && message.contains(&own) && message.contains(FLOWERS17_SHA256), "{message}");
    assert!(!unpacked && !out.exists(), "nothing was unpacked");
    assert_eq!(checked, Some(archive.len() as u64), "every byte was read for the hash");

    // A flipped bit of the gzip trailer's CRC-32 (its last 8 bytes are CRC-32 and length): with
    // the damaged file's own hash the CRC still refuses it, before unpacking.
    let mut damaged = archive.clone();
    let crc_at = damaged.len() - 8;
    damaged[crc_at] ^= 0x10;
    let damaged_file = work.path().join("damaged.tgz");
    std::fs::write(&damaged_file, &damaged).unwrap();
    let (got, unpacked, _) = get(&damaged_file, &sha256_hex(&damaged));
    let message = got.expect_err("a wrong CRC is refused").to_string();
    assert!(message.contains("damaged.tgz") && message.contains("gzip stream is damaged"), "{message}");
    assert!(!unpacked && !out.exists(), "nothing was unpacked");

    // Its own hash: it is unpacked.
    let (got, unpacked, _) = get(&file, &own);
    assert_eq!(got.expect("accepted"), 1360);
    assert!(unpacked);
    assert_sorted(&out);

    // The command line: a malformed --sha256 is refused before anything is read; without one
    // the published hash applies.
    let elsewhere = work.path().join("again");
    let args = ["data", "get", "flowers17", "--from", file.to_str().unwrap(), "--dir", elsewhere.to_str().unwrap()];
    let bad: Vec<&str> = args.iter().copied().chain(["--sha256", "abc"]).collect();
    let output = app(&bad, work.path());
    assert!(!output.status.success() && text(&output.stderr).contains("64 hexadecimal digits"), "{}", text(&output.stderr));
    let output = app(&args, work.path());
    assert!(!output.status.success() && text(&output.stderr).contains(FLOWERS17_SHA256), "{}", text(&output.stderr));
    assert!(!elsewhere.exists());
}
