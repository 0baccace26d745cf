//! A closed-loop HTTP/1.1 load client: CONNECTIONS connections, each sending its next
//! request as soon as the last is answered (as `wrk` does), for SECONDS. Prints one JSON line:
//! requests per second, latency p50/p99/max in µs, and non-2xx answers.
//!
//! usage: load URL METHOD CONNECTIONS SECONDS [BODY] [HEADER:VALUE ...]
//! A `{n}` in BODY becomes 20 to 26, changing with every request (so a PATCH of the quantity
//! really changes it).

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, method, connections, seconds, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: load URL METHOD CONNECTIONS SECONDS [BODY] [HEADER:VALUE ...]");
    };
    let uri: hyper::Uri = url.parse()?;
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let (body, headers) = match rest.split_first() {
        Some((b, h)) if !b.contains(':') || b.starts_with('{') => (b.clone(), h.to_vec()),
        _ => (String::new(), rest.to_vec()),
    };
    let deadline = Instant::now() + Duration::from_secs(seconds.parse()?);
    let mut tasks = Vec::new();
    for _ in 0..connections.parse::<usize>()? {
        let (uri, authority, method, body, headers) =
            (uri.clone(), authority.clone(), method.clone(), body.clone(), headers.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&authority).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let (mut latencies, mut bad) = (Vec::new(), 0u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let mut req = Request::builder().method(method.as_str()).uri(uri.clone()).header("host", &authority);
                for h in &headers {
                    if let Some((k, v)) = h.split_once(':') {
                        req = req.header(k.trim(), v.trim());
                    }
                }
                if !body.is_empty() {
                    req = req.header("content-type", "application/json");
                }
                let req = req.body(Full::new(Bytes::from(body.replace("{n}", &(20 + n % 7).to_string()))))?;
                let start = Instant::now();
                let resp = sender.send_request(req).await?;
                let ok = resp.status().is_success();
                resp.into_body().collect().await?;
                latencies.push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
                bad += u64::from(!ok);
            }
            Ok::<_, anyhow::Error>((latencies, bad))
        }));
    }
    let (mut all, mut bad) = (Vec::new(), 0);
    for t in tasks {
        let (l, b) = t.await??;
        all.extend(l);
        bad += b;
    }
    all.sort_unstable();
    let q = |p: f64| all.get(((all.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
    let secs: f64 = seconds.parse()?;
    println!(
        "{}",
        serde_json::json!({"rps": (all.len() as f64 / secs).round(), "p50": q(0.5), "p99": q(0.99), "max": q(1.0), "non2xx": bad, "requests": all.len()})
    );
    Ok(())
}
