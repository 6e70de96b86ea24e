//! `cargo xtask serve`: builds the web app (`trunk build --release`) and serves `dist/` on
//! `http://127.0.0.1:PORT` with a small static file server.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use tiny_http::{Header, Method, Response, Server};

use crate::cmd::note;
use crate::web::build_dist;

/// Builds (unless `no_build`) and serves the app until interrupted.
pub fn run(port: u16, dev: bool, no_build: bool) -> Result<()> {
    let dist = if no_build {
        crate::cmd::repo_root().join("dist")
    } else {
        build_dist(!dev)?
    };
    let dist = dist
        .canonicalize()
        .with_context(|| format!("{} does not exist: build it first", dist.display()))?;
    let server = Server::http(("127.0.0.1", port))
        .map_err(|e| anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    note(&format!("serving {}", dist.display()));
    println!("Mapseg is running at http://127.0.0.1:{port}/ (Ctrl-C stops it)");
    for request in server.incoming_requests() {
        let response = respond(&dist, request.method(), request.url());
        if let Err(e) = request.respond(response) {
            eprintln!("warning: could not answer a request: {e}");
        }
    }
    Ok(())
}

fn respond(dist: &Path, method: &Method, url: &str) -> Response<Box<dyn std::io::Read + Send>> {
    let text = |code: u16, body: &str| {
        let reader: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(body.to_owned()));
        Response::new(
            code.into(),
            headers(&[("Content-Type", "text/plain; charset=utf-8")]),
            reader,
            Some(body.len()),
            None,
        )
    };
    if !matches!(method, Method::Get | Method::Head) {
        return text(405, "method not allowed");
    }
    let Some(path) = resolve(dist, url) else {
        return text(404, "not found");
    };
    match File::open(&path) {
        Ok(file) => {
            let len = file.metadata().ok().map(|m| m.len() as usize);
            let headers = headers(&[
                ("Content-Type", mime(&path)),
                ("Cache-Control", "no-cache"),
                ("X-Content-Type-Options", "nosniff"),
            ]);
            let reader: Box<dyn std::io::Read + Send> = Box::new(file);
            Response::new(200.into(), headers, reader, len, None)
        }
        Err(_) => text(404, "not found"),
    }
}

/// The file under `dist` for a request path; `None` for anything outside it or missing.
fn resolve(dist: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let path = percent_decode(path)?;
    let mut out = dist.to_path_buf();
    for part in Path::new(path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    out.is_file().then_some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// MIME type by extension (`application/wasm` matters: browsers stream-compile only that).
fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "tif" | "tiff" => "image/tiff",
        "md" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Response headers from name/value pairs (ASCII constants, which `tiny_http` always accepts).
fn headers(pairs: &[(&str, &str)]) -> Vec<Header> {
    pairs
        .iter()
        .filter_map(|(name, value)| Header::from_bytes(name.as_bytes(), value.as_bytes()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_dist() {
        let dist = std::env::temp_dir();
        assert!(resolve(&dist, "/../etc/passwd").is_none());
        assert!(resolve(&dist, "/%2e%2e/etc/passwd").is_none());
        assert_eq!(mime(Path::new("a/web_bg.wasm")), "application/wasm");
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
    }
}
