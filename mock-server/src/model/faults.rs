//! Misbehaviour as data: a fault plan (rules that throttle, fail, delay, drop, lose or
//! duplicate requests), Partner Center's rate limits on virtual time, and the bookkeeping that
//! catches a client retrying before `Retry-After`. The model decides; the HTTP layer only acts
//! out the decision. Draws come from the plan's own seeded sequence, so a seed replays a storm.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::splitmix64;
use super::{Actor, Cause, EventKind, Subject, World};

/// A whole plan: what misbehaves, how, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the plan's draws (probabilities). Same seed, same faults on the same calls.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Rate limits measured on the virtual clock.
    #[serde(default)]
    pub rate_limits: Vec<RateLimit>,
    /// After this many faults on one request (one `MS-RequestId`) its next attempt passes, so
    /// a client that retries enough always gets through: every storm ends.
    #[serde(default = "default_fairness")]
    pub fairness: u32,
    /// How NCE migrations misbehave: failures, limbo, processing time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<MigrationFaults>,
}

/// The fault plan's say over NCE migrations, drawn when a migration is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrationFaults {
    /// Probability that a migration fails.
    #[serde(default)]
    pub failure: f64,
    /// Probability that a failure leaves the legacy subscription suspended until Microsoft
    /// reverts it (`migrationRevertHours`), rather than active again at once.
    #[serde(default)]
    pub limbo: f64,
    /// Minutes a migration stays `Processing` (default: the scenario's `migrationMinutes`).
    #[serde(default)]
    pub minutes: Option<u32>,
    /// Seconds after a create during which the eligibility check has not yet seen it: a second
    /// create for the same subscription is accepted as a second migration (the service is
    /// asynchronous, and only a client that reads before it retries is safe).
    #[serde(default)]
    pub lag_seconds: u32,
}

/// The longest a create may stay unseen by the eligibility check.
const MAX_MIGRATION_LAG_SECONDS: u32 = 3600;

fn default_fairness() -> u32 {
    4
}

/// One rule: which calls, when, and what happens to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// Operation names (`createOrder`, `updateLicenses`, ...; see README) or `*` for all.
    #[serde(default)]
    pub operations: Vec<String>,
    /// HTTP method, when the rule matches by path instead (`POST`).
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern with `*` for one segment (`/v1/customers/*/orders`).
    #[serde(default)]
    pub path: Option<String>,
    pub trigger: Trigger,
    pub effect: Effect,
    /// At most this many firings (then the rule is spent).
    #[serde(default)]
    pub times: Option<u32>,
}

/// When a matching call is hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Trigger {
    /// Every matching call.
    Always,
    /// Every Nth matching call (the Nth, the 2Nth, ...).
    Every(u32),
    /// Each matching call with this probability, drawn from the plan's seed.
    Probability(f64),
    /// Every matching call while the virtual clock is in `[from, until)`.
    Window { from: DateTime<Utc>, until: DateTime<Utc> },
}

/// What happens to a hit call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Effect {
    /// 429 with `Retry-After` (seconds, or an HTTP date when `httpDate`) and the throttling body.
    #[serde(rename_all = "camelCase")]
    Throttle {
        retry_after_seconds: u32,
        #[serde(default)]
        http_date: bool,
    },
    /// A 5xx with Partner Center's error body; nothing applied.
    Error { status: u16 },
    /// The answer comes this many (real) milliseconds late.
    Latency { ms: u64 },
    /// The connection drops before an answer: nothing applied.
    Drop,
    /// Applied and logged, then the answer is lost: the client sees `status` (a 5xx).
    LostResponse { status: u16 },
    /// Delivered twice: applied, then applied again; the client sees the first answer.
    Duplicate,
}

impl Effect {
    pub fn describe(&self) -> String {
        match self {
            Effect::Throttle { retry_after_seconds, http_date } => {
                format!("throttle (Retry-After {retry_after_seconds} s{})", if *http_date { ", as a date" } else { "" })
            }
            Effect::Error { status } => format!("HTTP {status}"),
            Effect::Latency { ms } => format!("latency {ms} ms"),
            Effect::Drop => "dropped connection".to_string(),
            Effect::LostResponse { status } => format!("applied, answer lost (HTTP {status})"),
            Effect::Duplicate => "delivered twice".to_string(),
        }
    }
}

/// A rate limit: at most `requests` per `window_seconds` of virtual time on these operation
/// groups, counted per partner or per partner and customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Groups: `customers`, `subscriptions`, `orders`, `users`, `licenses`, `offers`.
    pub groups: Vec<String>,
    pub requests: u32,
    #[serde(default = "default_window")]
    pub window_seconds: u32,
    #[serde(default)]
    pub per: LimitKey,
}

fn default_window() -> u32 {
    60
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LimitKey {
    #[default]
    Partner,
    PartnerCustomer,
}

impl FaultPlan {
    /// Partner Center's documented limits: 500 requests per minute per tenant on the
    /// customer, subscription and order resources; 100 migration creates per partner and 450
    /// migration validations per partner and customer in 5 minutes.
    pub fn partner_center_limits() -> Vec<RateLimit> {
        let limit = |g: &str, requests, window_seconds, per| RateLimit {
            groups: vec![g.to_string()],
            requests,
            window_seconds,
            per,
        };
        vec![
            limit("customers", 500, 60, LimitKey::Partner),
            limit("subscriptions", 500, 60, LimitKey::Partner),
            limit("orders", 500, 60, LimitKey::Partner),
            limit("migrations", 100, 300, LimitKey::Partner),
            limit("validations", 450, 300, LimitKey::PartnerCustomer),
        ]
    }

    /// A named preset: `limits` (rate limits only), `light`, `heavy`, `storm`.
    pub fn preset(name: &str, seed: u64) -> Option<FaultPlan> {
        let rule = |operations: &[&str], trigger: Trigger, effect: Effect| FaultRule {
            operations: operations.iter().map(|s| s.to_string()).collect(),
            method: None,
            path: None,
            trigger,
            effect,
            times: None,
        };
        let writes = ["createOrder", "updateLicenses", "updateSubscription", "createMigration"];
        let throttle = |s| Effect::Throttle { retry_after_seconds: s, http_date: false };
        let rules = match name {
            "limits" => Vec::new(),
            "light" => vec![
                rule(&["*"], Trigger::Probability(0.02), Effect::Error { status: 503 }),
                rule(&["*"], Trigger::Probability(0.02), throttle(5)),
                rule(&writes, Trigger::Probability(0.02), Effect::LostResponse { status: 504 }),
            ],
            "heavy" => vec![
                rule(&["*"], Trigger::Probability(0.06), Effect::Error { status: 503 }),
                rule(&["*"], Trigger::Probability(0.03), Effect::Error { status: 500 }),
                rule(&["*"], Trigger::Probability(0.05), throttle(10)),
                rule(&["*"], Trigger::Probability(0.01), Effect::Throttle { retry_after_seconds: 20, http_date: true }),
                rule(&["*"], Trigger::Probability(0.02), Effect::Drop),
                rule(&writes, Trigger::Probability(0.06), Effect::LostResponse { status: 504 }),
                rule(&writes, Trigger::Probability(0.04), Effect::Duplicate),
            ],
            "storm" => vec![
                rule(&["*"], Trigger::Probability(0.20), Effect::Error { status: 503 }),
                rule(&["*"], Trigger::Probability(0.15), throttle(30)),
                rule(&["*"], Trigger::Probability(0.05), Effect::Drop),
                rule(&writes, Trigger::Probability(0.15), Effect::LostResponse { status: 504 }),
                rule(&writes, Trigger::Probability(0.10), Effect::Duplicate),
            ],
            _ => return None,
        };
        // Failures leave legacy active again (a retry works); limbo only when a plan asks.
        let failure = match name {
            "light" => 0.02,
            "heavy" => 0.05,
            "storm" => 0.10,
            _ => 0.0,
        };
        Some(FaultPlan {
            seed,
            rules,
            rate_limits: FaultPlan::partner_center_limits(),
            fairness: default_fairness(),
            migrations: (failure > 0.0).then_some(MigrationFaults {
                failure,
                limbo: 0.0,
                minutes: None,
                lag_seconds: 0,
            }),
        })
    }

    pub fn presets() -> [&'static str; 4] {
        ["limits", "light", "heavy", "storm"]
    }

    /// Refuse plans that cannot mean anything, naming the rule.
    pub fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if r.operations.is_empty() && r.method.is_none() && r.path.is_none() {
                return Err(format!("{at}: give operations, or a method and/or path"));
            }
            match &r.trigger {
                Trigger::Every(0) => return Err(format!("{at}.trigger.every: must be at least 1")),
                Trigger::Probability(p) if !(0.0..=1.0).contains(p) => {
                    return Err(format!("{at}.trigger.probability: {p} is not within 0..1"));
                }
                Trigger::Window { from, until } if until <= from => {
                    return Err(format!("{at}.trigger.window: until must be after from"));
                }
                _ => {}
            }
            match &r.effect {
                Effect::Error { status } | Effect::LostResponse { status } if !(500..=599).contains(status) => {
                    return Err(format!("{at}.effect: status {status} is not a 5xx"));
                }
                Effect::Throttle { retry_after_seconds: 0, .. } => {
                    return Err(format!("{at}.effect.throttle.retryAfterSeconds: must be at least 1"));
                }
                Effect::Latency { ms } if *ms > 120_000 => {
                    return Err(format!("{at}.effect.latency.ms: {ms} is more than two minutes"));
                }
                _ => {}
            }
        }
        for (i, l) in self.rate_limits.iter().enumerate() {
            if l.requests == 0 || l.window_seconds == 0 {
                return Err(format!("rateLimits[{i}]: requests and windowSeconds must be at least 1"));
            }
            if let Some(g) = l.groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                return Err(format!("rateLimits[{i}].groups: {g:?} is not one of {}", GROUPS.join(", ")));
            }
        }
        if let Some(m) = &self.migrations {
            for (name, p) in [("failure", m.failure), ("limbo", m.limbo)] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("migrations.{name}: {p} is not within 0..1"));
                }
            }
            if m.minutes.is_some_and(|n| i64::from(n) > super::MAX_MIGRATION_MINUTES) {
                return Err(format!("migrations.minutes: at most {} (72 hours)", super::MAX_MIGRATION_MINUTES));
            }
            if m.lag_seconds > MAX_MIGRATION_LAG_SECONDS {
                return Err(format!("migrations.lagSeconds: at most {MAX_MIGRATION_LAG_SECONDS} (an hour)"));
            }
        }
        if self.fairness == 0 {
            return Err("fairness: must be at least 1 (0 would let a storm never end)".into());
        }
        Ok(())
    }
}

pub const GROUPS: [&str; 8] =
    ["customers", "subscriptions", "orders", "users", "licenses", "offers", "migrations", "validations"];

/// One incoming call, as the fault layer sees it before any handler runs.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub operation: &'a str,
    pub group: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub partner: Option<Uuid>,
    pub customer: Option<Uuid>,
    pub request_id: &'a str,
}

/// The live side of a plan: counters, draws, windows. Part of the world (and its snapshots).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultState {
    /// Shared: a write's checkpoint copies a pointer, not the rules.
    pub plan: Option<std::sync::Arc<FaultPlan>>,
    draws: u64,
    /// Matching calls seen per rule, and firings per rule.
    seen: Vec<u64>,
    fired: Vec<u64>,
    /// Faults met per request id (the fairness bound); dropped once the request passes.
    streak: imbl::OrdMap<String, u32>,
    /// Request times per rate-limit key, oldest first.
    #[serde(skip)]
    windows: imbl::OrdMap<(usize, Uuid, Option<Uuid>), imbl::Vector<DateTime<Utc>>>,
    /// Throttled request ids and when they may be retried.
    #[serde(skip)]
    not_before: imbl::OrdMap<String, DateTime<Utc>>,
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let s: Vec<&str> = path.trim_matches('/').split('/').collect();
    p.len() == s.len() && p.iter().zip(&s).all(|(a, b)| *a == "*" || a.eq_ignore_ascii_case(b))
}

impl FaultRule {
    fn matches(&self, call: &Call<'_>) -> bool {
        let by_op = self.operations.is_empty() || self.operations.iter().any(|o| o == "*" || o == call.operation);
        let by_method = self.method.as_ref().is_none_or(|m| m.eq_ignore_ascii_case(call.method));
        let by_path = self.path.as_ref().is_none_or(|p| path_matches(p, call.path));
        by_op && by_method && by_path
    }
}

impl World {
    pub fn fault_plan(&self) -> Option<&FaultPlan> {
        self.faults.plan.as_deref()
    }

    /// Install (or with `None` clear) a fault plan; counters start afresh.
    pub fn set_fault_plan(&mut self, plan: Option<FaultPlan>) -> Result<(), String> {
        if let Some(p) = &plan {
            p.validate()?;
        }
        let n = plan.as_ref().map_or(0, |p| p.rules.len());
        self.faults = FaultState {
            plan: plan.map(std::sync::Arc::new),
            seen: vec![0; n],
            fired: vec![0; n],
            ..FaultState::default()
        };
        Ok(())
    }

    /// Decide the fate of one call, logging any fault, throttle or early retry: `None` lets it
    /// pass. A 429 from a rate limit comes back as [`Effect::Throttle`] like a ruled one.
    pub fn decide(&mut self, call: &Call<'_>) -> Option<Effect> {
        // Taken out for the call and put back: the plan is read while the counters change.
        let plan = self.faults.plan.take()?;
        let effect = self.decide_under(&plan, call);
        self.faults.plan = Some(plan);
        effect
    }

    fn decide_under(&mut self, plan: &FaultPlan, call: &Call<'_>) -> Option<Effect> {
        let now = self.now;
        let subject = Subject { customer: call.customer, ..Subject::default() };
        let cause =
            Cause::Request { operation: call.operation.to_string().into(), request_id: call.request_id.to_string() };
        let actor = call.partner.map_or(Actor::Admin, Actor::Partner);

        if let Some(at) = self.faults.not_before.get(call.request_id).copied() {
            if now < at {
                let batch = self.open_batch(cause.clone(), actor);
                self.log(
                    &batch,
                    subject,
                    EventKind::EarlyRetry { operation: call.operation.to_string(), not_before: at },
                );
            } else {
                self.faults.not_before.remove(call.request_id);
            }
        }

        // Rate limits first: they are the service's steady behaviour, not a fault.
        if let Some(partner) = call.partner {
            for (i, limit) in plan.rate_limits.iter().enumerate() {
                if !limit.groups.iter().any(|g| g == call.group) {
                    continue;
                }
                let key = (i, partner, if limit.per == LimitKey::PartnerCustomer { call.customer } else { None });
                let window = Duration::seconds(i64::from(limit.window_seconds));
                let q = self.faults.windows.entry(key).or_default();
                while q.front().is_some_and(|t| *t + window <= now) {
                    q.pop_front();
                }
                if q.len() >= limit.requests as usize {
                    let oldest = q.front().copied().unwrap_or(now);
                    let wait = (oldest + window - now).num_milliseconds().max(1);
                    let retry_after = u32::try_from((wait + 999) / 1000).unwrap_or(u32::MAX).max(1);
                    let batch = self.open_batch(cause, actor);
                    self.log(
                        &batch,
                        subject,
                        EventKind::Throttled(Box::new(super::Throttled {
                            operation: call.operation.to_string(),
                            retry_after_seconds: retry_after,
                            limit: format!("{} per {} s on {}", limit.requests, limit.window_seconds, call.group),
                        })),
                    );
                    return Some(self.throttle(call, retry_after, false));
                }
                q.push_back(now);
            }
        }

        let streak = self.faults.streak.get(call.request_id).copied().unwrap_or(0);
        let mut chosen = None;
        for (i, rule) in plan.rules.iter().enumerate() {
            if !rule.matches(call) || rule.times.is_some_and(|t| self.faults.fired[i] >= u64::from(t)) {
                continue;
            }
            self.faults.seen[i] += 1;
            let hit = match &rule.trigger {
                Trigger::Always => true,
                Trigger::Every(n) => self.faults.seen[i].is_multiple_of(u64::from(*n)),
                Trigger::Probability(p) => self.draw_with(plan.seed) < *p,
                Trigger::Window { from, until } => *from <= now && now < *until,
            };
            if hit && chosen.is_none() {
                chosen = Some(i);
            }
        }
        let Some(i) = chosen.filter(|_| streak < plan.fairness) else {
            self.faults.streak.remove(call.request_id);
            return None;
        };
        self.faults.fired[i] += 1;
        self.faults.streak.insert(call.request_id.to_string(), streak + 1);
        let effect = plan.rules[i].effect.clone();
        let batch = self.open_batch(cause, actor);
        self.log(
            &batch,
            subject,
            EventKind::FaultInjected(Box::new(super::FaultInjected {
                operation: call.operation.to_string(),
                rule: i,
                effect: effect.describe(),
            })),
        );
        match effect {
            Effect::Throttle { retry_after_seconds, http_date } => {
                Some(self.throttle(call, retry_after_seconds, http_date))
            }
            other => Some(other),
        }
    }

    /// The plan's next draw in [0, 1): seeded, so a seed replays a storm.
    fn draw_with(&mut self, seed: u64) -> f64 {
        self.faults.draws += 1;
        let x = splitmix64(seed ^ splitmix64(self.faults.draws));
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A draw from the installed plan's sequence (1.0, never a hit, without a plan).
    pub(crate) fn draw_fault(&mut self) -> f64 {
        match self.faults.plan.as_ref().map(|p| p.seed) {
            Some(seed) => self.draw_with(seed),
            None => 1.0,
        }
    }

    /// A 429 for this call: remembered, so coming back before `Retry-After` is an early retry.
    fn throttle(&mut self, call: &Call<'_>, retry_after_seconds: u32, http_date: bool) -> Effect {
        let at = self.now + Duration::seconds(i64::from(retry_after_seconds));
        self.faults.not_before.insert(call.request_id.to_string(), at);
        Effect::Throttle { retry_after_seconds, http_date }
    }
}
