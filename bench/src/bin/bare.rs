//! The floor for `scripts/bench-serve.sh`: the least a server answering the same requests
//! with the same JSON must do (route, lock one map, copy a value out, render it), so the
//! mock's cost is read as a ratio to it.
//!
//! usage: bare ADDR SUBSCRIPTION.json   (the JSON of one subscription, as the mock renders it)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::Value;

type Store = Arc<Mutex<HashMap<String, Value>>>;

async fn read(State(s): State<Store>, Path((_, id)): Path<(String, String)>) -> Result<Json<Value>, StatusCode> {
    let found = s.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?.get(&id).cloned();
    found.map(Json).ok_or(StatusCode::NOT_FOUND)
}

async fn patch(
    State(s): State<Store>,
    Path((_, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, StatusCode> {
    let mut map = s.lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let sub = map.get_mut(&id).ok_or(StatusCode::NOT_FOUND)?;
    if let Some(q) = body.get("quantity") {
        sub["quantity"] = q.clone();
    }
    Ok(Json(sub.clone()))
}

async fn order(State(s): State<Store>, Path(_): Path<String>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let mut map = s.lock().unwrap_or_else(|p| p.into_inner());
    let n = map.len();
    let template = map.values().next().cloned().unwrap_or_default();
    let id = format!("{n:08x}-0000-4000-8000-000000000000");
    let mut sub = template;
    sub["id"] = Value::String(id.clone());
    map.insert(id.clone(), sub);
    let line = body["lineItems"][0].clone();
    (StatusCode::CREATED, Json(serde_json::json!({"id": id, "lineItems": [line], "status": "completed"})))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(file)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: bare ADDR SUBSCRIPTION.json");
    };
    let sub: Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
    let id = sub["id"].as_str().unwrap_or_default().to_string();
    let store: Store = Arc::new(Mutex::new(HashMap::from([(id, sub)])));
    let app = axum::Router::new()
        .route("/v1/customers/{c}/subscriptions/{s}", get(read).patch(patch))
        .route("/v1/customers/{c}/orders", post(order))
        .with_state(store);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
