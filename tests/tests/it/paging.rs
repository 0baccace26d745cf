//! Seek-based paging as Partner Center documents it: `size`, then `seekOperation=next` with
//! the `MS-ContinuationToken` header; past the end is 400 / 2000.

use axum::http::Method;
use skuswap_tests::{Harness, TestResult, article::*};

#[tokio::test]
async fn customers_page_through_with_continuation_tokens() -> TestResult {
    let h = Harness::article()?;
    let first = h.get("/v1/customers?size=2").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["totalCount"], 2);
    let token = first.body["continuationToken"].as_str().ok_or("no token")?.to_string();
    assert_eq!(first.body["links"]["next"]["headers"][0]["key"], "MS-ContinuationToken");
    assert_eq!(first.body["links"]["next"]["headers"][0]["value"], token.as_str());
    let next_uri = first.body["links"]["next"]["uri"].as_str().ok_or("no next")?;
    let second = h.send(Method::GET, &format!("/v1{next_uri}"), None, &[("MS-ContinuationToken", &token)]).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["totalCount"], 1);
    assert!(second.body.get("continuationToken").is_none());
    assert!(second.body["links"].get("next").is_none());
    let ids: Vec<_> = first.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(second.body["items"].as_array().into_iter().flatten())
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, [WINGTIP, TAILSPIN, NORTHWIND]);
    Ok(())
}

#[tokio::test]
async fn a_forged_token_or_one_of_another_list_is_800002() -> TestResult {
    let h = Harness::article()?;
    let first = h.get("/v1/customers?size=3").await;
    assert!(first.body.get("continuationToken").is_none());
    // A token of the old kind (hex of "customers:3") or of another list is forged here.
    let old = "customers:3".bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let users = h.get(&format!("/v1/customers/{WINGTIP}/users?size=4")).await;
    let other = users.body["continuationToken"].as_str().ok_or("no users token")?.to_string();
    for t in [old, other] {
        let r = h.send(Method::GET, "/v1/customers?seekOperation=Next", None, &[("MS-ContinuationToken", &t)]).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_002)), "{t}: {}", r.text);
    }
    for bad in ["zz", "users:1", ""] {
        let r = h.send(Method::GET, "/v1/customers?seekOperation=next", None, &[("MS-ContinuationToken", bad)]).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_002)), "{bad:?}: {}", r.text);
    }
    let r = h.get("/v1/customers?seekOperation=next").await;
    assert_eq!(r.status, 400);
    let r = h.get("/v1/customers?seekOperation=sideways").await;
    assert_eq!(r.code(), Some(900_126));
    for size in ["-1", "abc", "1001"] {
        let r = h.get(&format!("/v1/customers?size={size}")).await;
        assert_eq!(r.status, 400, "size={size}");
    }
    Ok(())
}

#[tokio::test]
async fn users_page_in_creation_order_and_tokens_do_not_cross_customers() -> TestResult {
    let h = Harness::article()?;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = match &token {
            None => h.get(&format!("/v1/customers/{WINGTIP}/users?size=4")).await,
            Some(t) => {
                h.send(
                    Method::GET,
                    &format!("/v1/customers/{WINGTIP}/users?size=4&seekOperation=next"),
                    None,
                    &[("MS-ContinuationToken", t)],
                )
                .await
            }
        };
        assert_eq!(r.status, 200, "{}", r.text);
        for u in r.body["items"].as_array().into_iter().flatten() {
            seen.push(u["firstName"].as_str().unwrap_or_default().to_string());
        }
        match r.body.get("continuationToken").and_then(|t| t.as_str()) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
    assert_eq!(seen[0], "Avery");
    assert_eq!(seen[9], "Noah");
    // A Wingtip users token is not valid for Tailspin's users.
    let first = h.get(&format!("/v1/customers/{WINGTIP}/users?size=4")).await;
    let t = first.body["continuationToken"].as_str().ok_or("no token")?;
    let r = h
        .send(
            Method::GET,
            &format!("/v1/customers/{TAILSPIN}/users?seekOperation=next"),
            None,
            &[("MS-ContinuationToken", t)],
        )
        .await;
    assert_eq!(r.status, 400);
    Ok(())
}

async fn users_after(h: &Harness, token: &str) -> skuswap_tests::Reply {
    let path = format!("/v1/customers/{WINGTIP}/users?size=4&seekOperation=next");
    h.send(Method::GET, &path, None, &[("MS-ContinuationToken", token)]).await
}

fn first_names(r: &skuswap_tests::Reply) -> Vec<String> {
    r.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| u["firstName"].as_str().unwrap_or_default().into())
        .collect()
}

#[tokio::test]
async fn a_deletion_between_pages_skips_nobody_and_past_the_end_is_2000() -> TestResult {
    let h = Harness::article()?;
    let first = h.get(&format!("/v1/customers/{WINGTIP}/users?size=4")).await;
    let token = first.body["continuationToken"].as_str().ok_or("no token")?.to_string();
    let gone = first.body["items"][1]["id"].as_str().ok_or("no user")?.to_string();
    let all = h.get(&format!("/v1/customers/{WINGTIP}/users?size=100")).await;
    let expected: Vec<String> = first_names(&all)[4..8].to_vec();
    // A user of the first page deleted: a position-based token would now skip one.
    let r = h.send(Method::DELETE, &format!("/v1/customers/{WINGTIP}/users/{gone}"), None, &[]).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.text);
    let second = users_after(&h, &token).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(first_names(&second), expected);
    // The last user a page showed deleted: the next page still starts right after them.
    let token2 = second.body["continuationToken"].as_str().ok_or("no token")?.to_string();
    let last = second.body["items"][3]["id"].as_str().ok_or("no user")?.to_string();
    let r = h.send(Method::DELETE, &format!("/v1/customers/{WINGTIP}/users/{last}"), None, &[]).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.text);
    let third = users_after(&h, &token2).await;
    assert_eq!(first_names(&third).first(), first_names(&all).get(8), "{}", third.text);
    // Every user after the second page's last deleted: its token is now past the end.
    let token = second.body["continuationToken"].as_str().ok_or("no token")?.to_string();
    for u in all.body["items"].as_array().into_iter().flatten().skip(8) {
        let id = u["id"].as_str().unwrap_or_default();
        h.send(Method::DELETE, &format!("/v1/customers/{WINGTIP}/users/{id}"), None, &[]).await;
    }
    let r = users_after(&h, &token).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(2000)), "{}", r.text);
    Ok(())
}

fn ids(r: &skuswap_tests::Reply) -> Vec<String> {
    r.body["items"].as_array().into_iter().flatten().map(|c| c["id"].as_str().unwrap_or_default().to_string()).collect()
}

/// A prospect who accepts between pages takes its place in the world's order, behind the page
/// already shown: the next page lists it, nobody repeats, and a restored world pages the same.
#[tokio::test]
async fn a_customer_who_accepts_between_pages_is_listed_in_its_place() -> TestResult {
    let h = Harness::article()?;
    let first = h.get("/v1/customers?size=2").await;
    assert_eq!(ids(&first), [WINGTIP, TAILSPIN]);
    let token = first.body["continuationToken"].as_str().ok_or("no token")?.to_string();
    // No body: the world's first partner, the article's PARTNER.
    let accepted = h.post(&format!("/admin/customers/{ADVENTURE_WORKS}/accept-relationship"), "").await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let next = "/v1/customers?size=2&seekOperation=Next";
    let second = h.send(Method::GET, next, None, &[("MS-ContinuationToken", &token)]).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let whole = h.get("/v1/customers?size=10").await;
    assert_eq!(ids(&whole).len(), 4, "{}", whole.text);
    assert_eq!(ids(&second), ids(&whole)[2..].to_vec(), "the second page is the rest, in the world's order");
    assert!(ids(&whole).contains(&ADVENTURE_WORKS.to_string()));
    // The index is derived: a world restored from its snapshot pages the same.
    let snapshot = h.get("/admin/state").await.text;
    let mut other = Harness::article()?;
    assert_eq!(other.send(Method::PUT, "/admin/state", Some(&snapshot), &[]).await.status, 200);
    // The restored world holds the tokens of the snapshot's world, not this harness's.
    other.token.clone_from(&h.token);
    assert_eq!(ids(&other.get("/v1/customers?size=10").await), ids(&whole));
    let resumed = other.send(Method::GET, next, None, &[("MS-ContinuationToken", &token)]).await;
    assert_eq!(ids(&resumed), ids(&second), "{}", resumed.text);
    Ok(())
}
