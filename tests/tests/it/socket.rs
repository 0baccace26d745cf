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
