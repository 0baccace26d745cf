//! The dashboard at `/`, in-process: its pages show what the REST API shows, its forms do what
//! the REST API does (and appear in the audit log as requests), and whatever the REST API would
//! refuse the dashboard refuses too, with Partner Center's error text and nothing changed.
//! (The same pages are driven in a real browser by `scripts/browser-tests.sh`.)

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use skuswap_tests::article::*;
use skuswap_tests::{Harness, TestResult};
use tower::ServiceExt;

async fn form(
    h: &Harness,
    path: &str,
    body: &str,
) -> Result<(StatusCode, String, Option<String>), Box<dyn std::error::Error>> {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))?;
    let resp = match h.app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status();
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = String::from_utf8_lossy(&resp.into_body().collect().await?.to_bytes()).to_string();
    Ok((status, text, location))
}

#[tokio::test]
async fn pages_show_the_tenants_as_partner_center_does() -> TestResult {
    let h = Harness::article()?;
    let home = h.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text.contains("Signed in as") && home.text.contains("2017-07-03"), "{}", home.text);
    assert!(home.text.contains("Every licensed user still has an effective license."));

    let found = h.get("/customers?q=wingtip").await.text;
    assert!(found.contains("Wingtip Toys") && !found.contains("Tailspin"), "search is not filtering");

    let wingtip = h.get(&format!("/customers/{WINGTIP}")).await.text;
    assert!(wingtip.contains("Microsoft Dynamics AX Enterprise"));
    assert!(wingtip.contains("Expires on"), "no status line");
    assert!(wingtip.contains("Manage licenses") && wingtip.contains("Add subscriptions"));

    // As in the REST API, a tenant that is not the partner's customer is not found; the home
    // page offers the invitation link instead.
    assert_eq!(h.get(&format!("/customers/{ADVENTURE_WORKS}")).await.status, StatusCode::NOT_FOUND);
    assert!(home.text.contains("id=\"invitation\""), "no invitation link on the dashboard");
    assert!(!h.get("/customers").await.text.contains("Adventure Works"), "a non-customer is listed");

    // Northwind's Open subscription is not this partner's: its seats show, the subscription not.
    let northwind = h.get(&format!("/customers/{NORTHWIND}")).await.text;
    assert!(
        !northwind.contains(&format!("data-subscription=\"{NORTHWIND_OPEN_CRM}\"")),
        "another channel's subscription is shown"
    );
    assert!(northwind.contains("Licenses in the tenant") && northwind.contains("Dynamics CRM"), "{northwind}");

    let sub = h.get(&format!("/customers/{WINGTIP}/subscriptions/{WINGTIP_AX}")).await;
    assert_eq!(sub.status, StatusCode::OK);
    assert!(sub.text.contains("id=\"status-line\""));

    let audit = h.get("/audit?kind=scenario").await.text;
    assert!(audit.contains("ScenarioLoaded") && !audit.contains("TokenIssued"), "the audit filter does not filter");
    assert_eq!(h.get("/customers/not-a-guid").await.status, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn what_the_api_refuses_the_dashboard_refuses_with_nothing_changed() -> TestResult {
    let h = Harness::article()?;
    let no_seats = h.sku_id("d365-activity");
    let user = h.holders(WINGTIP, "ax-task").first().cloned().ok_or("no AX Task user")?;
    let open = NORTHWIND_OPEN_CRM;
    let cases: Vec<(String, String, StatusCode, &str)> = vec![
        (
            format!("/customers/{WINGTIP}/add-subscriptions"),
            format!("offer={}&quantity=0", h.offer_id("d365-activity")),
            StatusCode::BAD_REQUEST,
            "outside the allowed range",
        ),
        (
            format!("/customers/{WINGTIP}/add-subscriptions"),
            format!("offer={}&quantity=5", h.offer_id("ax-enterprise")),
            StatusCode::FORBIDDEN,
            "no longer available for purchase",
        ),
        (
            format!("/customers/{ADVENTURE_WORKS}/add-subscriptions"),
            format!("offer={}&quantity=5", h.offer_id("d365-activity")),
            StatusCode::NOT_FOUND,
            "No such customer",
        ),
        (
            format!("/customers/{WINGTIP}/users/{user}/licenses"),
            format!("sku={}&sku={no_seats}", h.sku_id("ax-task")),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (format!("/customers/{NORTHWIND}/subscriptions/{open}"), "status=suspended".into(), StatusCode::NOT_FOUND, ""),
        (
            format!("/customers/{WINGTIP}/subscriptions/{WINGTIP_AX}"),
            "status=frozen".into(),
            StatusCode::BAD_REQUEST,
            "",
        ),
        ("/clock".into(), "days=abc".into(), StatusCode::BAD_REQUEST, "whole number"),
    ];
    for (path, body, status, text) in cases {
        let before = h.get("/admin/state").await.text;
        let (got, page, _) = form(&h, &path, &body).await?;
        assert_eq!(got, status, "{path} {body}: {page}");
        assert!(page.contains("class=\"error\""), "{path} {body}: no error shown");
        assert!(page.contains(text), "{path} {body}: does not say {text:?}");
        assert_eq!(h.get("/admin/state").await.text, before, "{path} {body} changed the state");
    }
    Ok(())
}

#[tokio::test]
async fn forms_act_like_the_api_and_the_judge_sees_them() -> TestResult {
    let h = Harness::article()?;
    let (status, _, location) = form(
        &h,
        &format!("/customers/{WINGTIP}/add-subscriptions"),
        &format!("offer={}&quantity=5", h.offer_id("d365-activity")),
    )
    .await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some(format!("/customers/{WINGTIP}").as_str()));
    let user = h.holders(WINGTIP, "ax-task").first().cloned().ok_or("no AX Task user")?;
    // One submit, old cleared and new ticked: one atomic license update.
    let (status, page, _) = form(
        &h,
        &format!("/customers/{WINGTIP}/users/{user}/licenses"),
        &format!("sku={}&sku=", h.sku_id("d365-activity")),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("were saved") && page.contains("Removed: Microsoft Dynamics AX Task"));
    let batch = h.mock.read(|w| {
        w.events()
            .iter()
            .filter(|e| e.user.map(|u| u.to_string()) == Some(user.clone()))
            .filter(|e| e.cause.to_string().contains("updateLicenses"))
            .map(|e| e.batch)
            .collect::<Vec<_>>()
    });
    assert!(batch.len() >= 2 && batch.windows(2).all(|p| p[0] == p[1]), "assign and remove must be one batch");
    assert_eq!(h.invariants().await["ok"], true);

    // Clearing without ticking: the banner turns red on the very next page.
    let other = h.holders(WINGTIP, "ax-task").first().cloned().ok_or("no second AX Task user")?;
    let (_, page, _) = form(&h, &format!("/customers/{WINGTIP}/users/{other}/licenses"), "sku=").await?;
    assert!(page.contains("class=\"banner\""), "no red banner after leaving a user unlicensed");
    assert_eq!(h.invariants().await["ok"], false);

    // The clock control moves the virtual clock.
    let (status, _, location) = form(&h, "/clock", "days=121").await?;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert!(h.get("/").await.text.contains("2017-11-01"));
    Ok(())
}

#[tokio::test]
async fn the_dashboard_shows_only_the_signed_in_partners_customers() -> TestResult {
    let h = Harness::article()?;
    let as_other = [("cookie", format!("skuswap-partner={OTHER_PARTNER}"))];
    let headers: Vec<(&str, &str)> = as_other.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let get = async |path: String| h.send(Method::GET, &path, None, &headers).await;
    let home = get("/".into()).await.text;
    assert!(home.contains("id=\"switch-partner\""), "two partners and no switcher");
    let customers = get("/customers".into()).await.text;
    assert!(!customers.contains("Wingtip Toys"), "another partner's customer is listed: {customers}");
    assert_eq!(get(format!("/customers/{WINGTIP}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(format!("/customers/{WINGTIP}/subscriptions/{WINGTIP_AX}")).await.status, StatusCode::NOT_FOUND);
    let audit = get(format!("/audit?customer={WINGTIP}")).await.text;
    assert!(!audit.contains(WINGTIP), "another partner's audit events are shown");
    // The switcher sets the cookie; an unknown partner is refused.
    let (status, _, location) = form(&h, "/signin", &format!("partner={OTHER_PARTNER}")).await?;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let (status, _, _) = form(&h, "/signin", "partner=not-a-partner").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    Ok(())
}

/// A license form without its `sku` fields (empty, another content type, malformed) is not the
/// form: it is refused and removes nothing (it used to remove every license and say "saved").
#[tokio::test]
async fn a_license_post_that_is_not_the_form_changes_nothing() -> TestResult {
    let h = Harness::article()?;
    let user = h.holders(WINGTIP, "ax-enterprise").first().cloned().ok_or("no AX user")?;
    let path = format!("/customers/{WINGTIP}/users/{user}/licenses");
    let before = h.mock.read(serde_json::to_string)?;
    let (status, page, _) = form(&h, &path, "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (status, _, _) = form(&h, &path, "sku=not-a-guid").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = form(&h, &path, "%%%").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let plain = h.send(Method::POST, &path, Some("sku="), &[("content-type", "text/plain")]).await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert!(h.mock.read(serde_json::to_string)? == before, "a refused form changed the state");
    assert!(h.holders(WINGTIP, "ax-enterprise").contains(&user));
    Ok(())
}

/// State-changing admin calls and forms refuse other sites and other hosts (any web page, or
/// a rebinding DNS name, could otherwise post to them); reads and this site's own forms pass.
#[tokio::test]
async fn cross_site_and_foreign_host_posts_are_refused() -> TestResult {
    let h = Harness::article()?;
    let before = h.mock.read(serde_json::to_string)?;
    let refused: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("sec-fetch-site", "cross-site")],
        &[("host", "evil.example:8080")],
        &[("origin", "null")],
    ];
    for headers in refused {
        for (method, path, body) in [
            (Method::POST, "/admin/reset", None),
            (Method::POST, "/clock", Some("days=1")),
            (Method::POST, "/admin/tokens", None),
            (Method::POST, "/devicelogin", Some("user_code=ABCD-EFGH")),
        ] {
            let r = h.send(method.clone(), path, body, headers).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} {headers:?}: {}", r.text);
        }
    }
    assert!(h.mock.read(serde_json::to_string)? == before, "a refused request changed the state");
    // Reads from anywhere, and this site's own form posts, still work.
    assert_eq!(
        h.send(Method::GET, "/admin/clock", None, &[("origin", "https://evil.example")]).await.status,
        StatusCode::OK
    );
    let own: &[(&str, &str)] = &[
        ("host", "127.0.0.1:8080"),
        ("origin", "http://127.0.0.1:8080"),
        ("sec-fetch-site", "same-origin"),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    assert_eq!(h.send(Method::POST, "/clock", Some("days=1"), own).await.status, StatusCode::SEE_OTHER);
    let local: &[(&str, &str)] = &[("host", "localhost:8080")];
    assert_eq!(h.send(Method::POST, "/admin/tokens", None, local).await.status, StatusCode::CREATED);
    Ok(())
}

/// A rebinding DNS name must not read the admin API either (`/admin/state` holds every
/// token); the admin token (`serve --admin-token-file`) opens it to other hosts, a wrong one
/// does not.
#[tokio::test]
async fn a_foreign_host_reads_nothing_without_the_admin_token() -> TestResult {
    let h = Harness::article()?;
    let foreign = ("host", "evil.example:8080");
    for path in ["/admin/state", "/admin/events", "/", "/customers"] {
        let r = h.send(Method::GET, path, None, &[foreign]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "GET {path}: {}", r.text);
        assert!(!r.text.contains("pcmock."), "GET {path} leaked a token");
    }
    let token = "a".repeat(40);
    h.mock.require_admin_token(token.clone());
    let good = format!("Bearer {token}");
    let bad = format!("Bearer {}", "b".repeat(40));
    let r = h.send(Method::GET, "/admin/state", None, &[foreign, ("authorization", bad.as_str())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = h.send(Method::GET, "/admin/state", None, &[foreign, ("authorization", good.as_str())]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = h.send(Method::POST, "/admin/tokens", None, &[foreign, ("authorization", good.as_str())]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Loopback still needs no token.
    assert_eq!(h.send(Method::GET, "/admin/clock", None, &[("host", "127.0.0.1:8080")]).await.status, StatusCode::OK);
    Ok(())
}
