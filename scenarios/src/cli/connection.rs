//! One HTTP/1.1 connection of `skuswap serve`, plain or TLS: hyper with the head bounded, and
//! hyper's own refusals (a request line or a head too large, or more than 100 headers, which it
//! answers before any handler runs, with an empty body) rewritten into Partner Center's error body.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

/// hyper's read buffer: a head past it (it may read up to twice this before it checks) is
/// refused before the app's own, exact bounds (`mock_server::http::MAX_*`) can see it.
pub const MAX_HEAD_BYTES: usize = 128 * 1024;

/// Serve `app` on one accepted stream until the client is done.
pub async fn serve_connection<S>(stream: S, app: axum::Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let io = hyper_util::rt::TokioIo::new(Refusals { io: stream, pending: None, mid_buffer: false });
    let _ = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD_BYTES)
        // hyper's own bound is left at its default, 100 headers, the app's too: a larger one
        // makes hyper allocate and fill that many header slots for every request it parses
        // (4% of a GET's time at 1,000). A request over it is refused by hyper, and rewritten.
        .serve_connection(io, service)
        .await;
}

/// Serve `app` over plain HTTP on `listener` until `shutdown` resolves.
pub async fn serve_plain(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    accept_each(listener, shutdown, move |tcp| serve_connection(tcp, app.clone())).await
}

/// How long a stop waits for the connections still open (requests in flight finish in
/// milliseconds; an idle keep-alive connection is not waited for longer than this).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Accept connections until `shutdown` resolves, each served on a task of its own by `serve`
/// (so a slow or silent client never holds up the others); then let the requests in flight
/// finish (up to [`DRAIN`]), so a state saved after the stop holds every answered write.
pub async fn accept_each<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    serve: F,
) -> io::Result<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::pin!(shutdown);
    let mut open = tokio::task::JoinSet::new();
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // A client that gave up mid-accept, or out of file descriptors: keep serving.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        open.spawn(serve(tcp));
        // Reap the finished ones as we go, so the set holds only open connections.
        while open.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, async { while open.join_next().await.is_some() {} }).await;
    open.abort_all();
    Ok(())
}

/// The error body for a refusal hyper makes itself, if `head` is one: hyper writes it whole,
/// with `content-length: 0`, and the handlers never answer 414 or 431 without a body.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let (status, description) = if head.starts_with(b"HTTP/1.1 414 ") {
        ("414 URI Too Long", "The request line is longer than 64 KiB.")
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        ("431 Request Header Fields Too Large", "The request's headers are too large: at most 100 headers of 64 KiB.")
    } else {
        return None;
    };
    let text = String::from_utf8_lossy(head);
    if !text.to_ascii_lowercase().contains("content-length: 0\r\n") {
        return None;
    }
    let body =
        serde_json::json!({"code": 800_002, "description": description, "data": [], "source": "PartnerFD"}).to_string();
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// The stream hyper writes to, which swaps hyper's bodiless refusals for [`replacement`].
struct Refusals<S> {
    io: S,
    /// A replacement being written: its bytes, how many are out, and the length hyper gave.
    pending: Option<(Vec<u8>, usize, usize)>,
    /// The last write took only part of hyper's buffer: the next one continues it (a body's
    /// middle), so it is never taken for the start of a refusal.
    mid_buffer: bool,
}

impl<S: AsyncRead + Unpin> AsyncRead for Refusals<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Refusals<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            match replacement(buf).filter(|_| !self.mid_buffer) {
                Some(bytes) => self.pending = Some((bytes, 0, buf.len())),
                None => {
                    let written = ready!(Pin::new(&mut self.io).poll_write(cx, buf))?;
                    self.mid_buffer = written < buf.len();
                    return Poll::Ready(Ok(written));
                }
            }
        }
        let this = &mut *self;
        while let Some((bytes, out, given)) = this.pending.as_mut() {
            if *out >= bytes.len() {
                let given = *given;
                this.pending = None;
                return Poll::Ready(Ok(given));
            }
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, &bytes[*out..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *out += n;
        }
        Poll::Ready(Ok(0))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_hyper_s_bodiless_refusals_are_replaced() {
        let hyper_414 = b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(replacement(hyper_414).unwrap_or_default()).unwrap_or_default();
        assert!(out.starts_with("HTTP/1.1 414 URI Too Long\r\n") && out.contains("\"code\":800002"), "{out}");
        let ours = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 90\r\n\r\n";
        assert!(replacement(ours).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
