//! One test over a real loopback socket with reqwest, to prove nothing depends on the
//! in-process transport.

use mock_server::Mock;
use skuswap_tests::{TestResult, article::*};

#[tokio::test]
async fn the_mock_serves_a_real_client_over_loopback() -> TestResult {
    let scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    let mut world = mock_server::model::World::from_scenario(&scenario, None)?;
    let token = mock_server::mint_token(&mut world, None, mock_server::model::TokenMode::AppUser, None)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, mock_server::app(Mock::new(world)))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    skuswap_migrator::client::transport::install_crypto();
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let r = client
        .get(format!("{base}/v1/customers?size=500"))
        .bearer_auth(&token)
        .header("MS-RequestId", "abc")
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["ms-requestid"], "abc");
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["totalCount"], 3);
    let offer = mock_server::model::Catalog::builtin().resolve("d365-sales").map(|o| o.id.clone()).unwrap_or_default();
    let r = client
        .post(format!("{base}/v1/customers/{WINGTIP}/orders"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"lineItems": [{"lineItemNumber": 0, "offerId": offer, "quantity": 2}]}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = client.get(format!("{base}/admin/invariants")).send().await?.json().await?;
    assert_eq!(v["ok"], true);
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// `serve --state FILE`: a change survives a kill (at most one save interval is lost) and a
/// graceful stop; the restarted server has the change and the old tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_state_survives_a_kill_and_a_restart() -> TestResult {
    use skuswap_scenarios::cli::persist::{self, Persist};
    use skuswap_scenarios::cli::serve::{Scheme, Serving, serve, world_with};
    skuswap_migrator::client::transport::install_crypto();
    let path = std::env::temp_dir().join(format!("skuswap-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let persist = Persist { path: path.clone(), every: std::time::Duration::from_millis(300) };
    let start = |world, stop: tokio::sync::oneshot::Receiver<()>| {
        let (tx, rx) = std::sync::mpsc::channel();
        let serving = Serving {
            scheme: Scheme::Http,
            persist: Some(persist.clone()),
            clock: None,
            admin_token: None,
            max_events: None,
        };
        let task = tokio::spawn(async move {
            let on_start = move |s: &skuswap_scenarios::cli::serve::Started| {
                let _ = tx.send((s.url.clone(), s.token.clone()));
            };
            serve("127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()), world, serving, on_start, async {
                let _ = stop.await;
            })
            .await
        });
        (task, rx)
    };
    let client = reqwest::Client::new();
    let order = |base: &str, token: &str| {
        client
            .post(format!("{base}/v1/customers/{WINGTIP}/orders"))
            .bearer_auth(token)
            .json(&serde_json::json!({"lineItems":[{"lineItemNumber":0,"offerId":"2AA24A5A-0044-577B-B412-952E420C1F68","quantity":1}]}))
            .send()
    };
    // First run: one order, then killed (no graceful save) after a save interval.
    let (_never, stop) = tokio::sync::oneshot::channel();
    let (task, started) = start(world_with("article", None, None)?, stop);
    let (base, token) = started.recv_timeout(std::time::Duration::from_secs(10))?;
    assert_eq!(order(&base, &token).await?.status(), 201);
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    task.abort();
    let saved = persist::load(&path)?.ok_or("nothing was saved")?;
    let orders = |w: &mock_server::model::World| w.events().iter().filter(|e| e.kind.name() == "OrderPlaced").count();
    assert_eq!(orders(&saved), 1, "the order was lost to the kill");
    // Second run, from the file: the old token works; a change then a graceful stop is saved.
    let (stop_now, stop) = tokio::sync::oneshot::channel();
    let (task, started) = start(saved, stop);
    let (base, _) = started.recv_timeout(std::time::Duration::from_secs(10))?;
    assert_eq!(order(&base, &token).await?.status(), 201, "the token from before the restart");
    let _ = stop_now.send(());
    task.await??;
    assert_eq!(persist::load(&path)?.map(|w| orders(&w)), Some(2));
    // A file that is not a state is a clear error.
    std::fs::write(&path, "{\"half\": ")?;
    assert!(persist::load(&path).is_err_and(|e| e.to_string().contains("not a skuswap state")));
    let _ = std::fs::remove_file(&path);
    Ok(())
}

/// Heads past hyper's buffer are refused before the app runs: still with Partner Center's
/// error body, and the connection's next client is served.
#[tokio::test]
async fn heads_too_large_for_the_server_get_the_error_body() -> TestResult {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = skuswap_tests::Harness::article()?;
    let served = skuswap_tests::engine::serve(&h).await?;
    let addr = served.base_url.trim_start_matches("http://").to_string();
    let heads = [
        (format!("GET /v1/customers?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)), "414"),
        (format!("GET /v1/customers HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(400_000)), "431"),
        (format!("GET /v1/customers HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-A: a\r\n".repeat(2000)), "431"),
    ];
    for (head, status) in heads {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await?;
        // The server may answer and close before all of a huge head is written.
        let _ = tcp.write_all(head.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{}", &text[..text.len().min(300)]);
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(body)?;
        assert_eq!(v["code"], 800_002, "{body}");
    }
    skuswap_migrator::client::transport::install_crypto();
    let r = reqwest::Client::new().get(format!("{}/admin/clock", served.base_url)).send().await?;
    assert_eq!(r.status(), 200);
    Ok(())
}
