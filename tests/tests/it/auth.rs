//! Bearer tokens map to a partner and a mode; other partners' customers are invisible;
//! request and correlation ids are echoed on every answer, errors included.

use axum::http::Method;
use skuswap_tests::{Harness, TestResult, article::*};

#[tokio::test]
async fn a_missing_token_is_401_800001_with_www_authenticate() -> TestResult {
    let h = Harness::article()?;
    let r = h.send(Method::GET, "/v1/customers", None, &[("authorization", "")]).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, Some(800_001)), "{}", r.text);
    assert!(r.headers.contains_key("www-authenticate"));
    assert_eq!(r.body["source"], "PartnerFD");
    Ok(())
}

#[tokio::test]
async fn an_unknown_token_is_401_access_denied() -> TestResult {
    let h = Harness::article()?;
    let r = h.send(Method::GET, "/v1/customers", None, &[("authorization", "Bearer nope")]).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, Some(400)));
    Ok(())
}

#[tokio::test]
async fn app_only_tokens_are_refused_on_app_user_routes_only() -> TestResult {
    let h = Harness::article()?;
    let app = h.token_for(None, "app").await;
    let auth = format!("Bearer {app}");
    let headers = [("authorization", auth.as_str())];
    for ok in ["/v1/customers".to_string(), format!("/v1/customers/{WINGTIP}/subscriptions")] {
        let r = h.send(Method::GET, &ok, None, &headers).await;
        assert_eq!(r.status, 200, "{ok}: {}", r.text);
    }
    let user = h.holders(WINGTIP, "ax-enterprise")[0].clone();
    for refused in [
        format!("/v1/customers/{WINGTIP}/users"),
        format!("/v1/customers/{WINGTIP}/users/{user}"),
        format!("/v1/customers/{WINGTIP}/users/{user}/licenses"),
        format!("/v1/customers/{WINGTIP}/subscribedskus"),
        "/v1/customers/relationshiprequests".to_string(),
    ] {
        let r = h.send(Method::GET, &refused, None, &headers).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, Some(2032)), "{refused}: {}", r.text);
    }
    let before = h.mock.read(|w| w.events().len());
    let body = format!(r#"{{"licensesToAssign":[{{"skuId":"{}"}}]}}"#, h.sku_id("ax-task"));
    let r = h
        .send(Method::POST, &format!("/v1/customers/{WINGTIP}/users/{user}/licenseupdates"), Some(&body), &headers)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(h.mock.read(|w| w.events().len()), before);
    Ok(())
}

#[tokio::test]
async fn another_partners_customer_is_not_found() -> TestResult {
    let h = Harness::article()?;
    // Adventure Works is Fabrikam's customer, not Contoso's.
    let r = h.get(&format!("/v1/customers/{ADVENTURE_WORKS}")).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, Some(60_003)));
    let r = h.get(&format!("/v1/customers/{ADVENTURE_WORKS}/subscriptions/{ADVENTURE_WORKS_AX}")).await;
    assert_eq!(r.status, 404);
    // Fabrikam sees it, and not Contoso's customers.
    let fabrikam = format!("Bearer {}", h.token_for(Some(OTHER_PARTNER), "app+user").await);
    let headers = [("authorization", fabrikam.as_str())];
    let r = h.send(Method::GET, &format!("/v1/customers/{ADVENTURE_WORKS}/subscriptions"), None, &headers).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["items"][0]["id"], ADVENTURE_WORKS_AX);
    let r = h.send(Method::GET, &format!("/v1/customers/{WINGTIP}"), None, &headers).await;
    assert_eq!(r.status, 404);
    let r = h.send(Method::GET, "/v1/customers", None, &headers).await;
    assert_eq!(r.body["totalCount"], 1);
    Ok(())
}

#[tokio::test]
async fn request_and_correlation_ids_are_echoed_or_minted() -> TestResult {
    let h = Harness::article()?;
    let headers = [
        ("MS-RequestId", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("MS-CorrelationId", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
    ];
    for path in ["/v1/customers", "/v1/customers/not-a-guid"] {
        let r = h.send(Method::GET, path, None, &headers).await;
        assert_eq!(r.headers["ms-requestid"], headers[0].1);
        assert_eq!(r.headers["ms-correlationid"], headers[1].1);
    }
    let r = h.get("/v1/customers").await;
    let minted = r.headers["ms-requestid"].to_str()?;
    assert!(uuid::Uuid::parse_str(minted).is_ok(), "{minted}");
    Ok(())
}

#[tokio::test]
async fn admin_tokens_refuse_unknown_partners_and_modes() -> TestResult {
    let h = Harness::article()?;
    let r = h.post("/admin/tokens", r#"{"partnerId":"00000000-0000-0000-0000-000000000001"}"#).await;
    assert_eq!(r.status, 400);
    let r = h.post("/admin/tokens", r#"{"mode":"root"}"#).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(900_126)));
    let r = h.post("/admin/tokens", "").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["partnerId"], PARTNER);
    assert_eq!(r.body["mode"], "app+user");
    Ok(())
}

/// Tokens are random per start (the seed keeps ids, not secrets), die with a reload, and may
/// be given a lifetime on the virtual clock.
#[tokio::test]
async fn tokens_are_random_revoked_by_a_reload_and_may_expire() -> TestResult {
    let (a, b) = (Harness::article()?, Harness::article()?);
    assert_ne!(a.token, b.token, "the same token on two starts of the same scenario and seed");
    let old = a.token_for(None, "app+user").await;
    let auth = format!("Bearer {old}");
    assert_eq!(a.send(Method::GET, "/v1/customers", None, &[("authorization", &auth)]).await.status.as_u16(), 200);
    assert_eq!(a.post("/admin/scenario", r#"{"name":"article"}"#).await.status.as_u16(), 200);
    let r = a.send(Method::GET, "/v1/customers", None, &[("authorization", &auth)]).await;
    assert_eq!(r.status.as_u16(), 401, "a token survived the reload");
    // A lifetime: good until it passes.
    let r = a.post("/admin/tokens", r#"{"lifetimeSeconds":300}"#).await;
    let short = r.body["accessToken"].as_str().ok_or("no token")?.to_string();
    let auth = format!("Bearer {short}");
    assert_eq!(a.send(Method::GET, "/v1/customers", None, &[("authorization", &auth)]).await.status.as_u16(), 200);
    a.post("/admin/clock/advance", r#"{"minutes":6}"#).await;
    assert_eq!(a.send(Method::GET, "/v1/customers", None, &[("authorization", &auth)]).await.status.as_u16(), 401);
    for body in [r#"{"lifetimeSeconds":1}"#, r#"{"lifetimeSeconds":9999999}"#] {
        assert_eq!(a.post("/admin/tokens", body).await.status.as_u16(), 400, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn a_token_that_cannot_go_on_the_wire_is_refused_unsent_and_unrepeated() -> TestResult {
    use skuswap_migrator::client::{ClientError, InProcess, PartnerCenter, RestClient, RetryPolicy};
    let h = Harness::article()?;
    let client =
        RestClient::new(InProcess::new(mock_server::app(h.mock.clone())), "s3cret\nvalue", RetryPolicy::default());
    let err = client.customers().await.err().ok_or("a token holding a line break was sent")?;
    let text = err.to_string();
    assert!(matches!(err, ClientError::Unreachable { attempts: 1, .. }), "{text}");
    assert!(text.contains("authorization header") && !text.contains("s3cret"), "{text}");
    Ok(())
}
