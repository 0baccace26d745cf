//! The rehearsal's story on the terminal: what was planned, what it cost, the verdict, and
//! for a failure the audit-log lines around the first unexpected violation.

use std::path::Path;

use skuswap_migrator::plan::{StepKind, human_minutes};

use crate::rehearsal::Rehearsal;

impl Rehearsal {
    /// The terminal story.
    pub fn summary(&self, report: Option<&Path>) -> String {
        let (planned, invitations) = (self.planned_customers(), self.invitations());
        let mut out = String::new();
        out.push_str(&format!(
            "Rehearsal of {} (seed {}): {} customers, {} users, {} subscriptions; virtual {} to {}\n",
            self.scenario,
            self.seed,
            self.customers,
            self.users,
            self.subscriptions,
            self.start.format("%Y-%m-%d %H:%M"),
            self.end.format("%Y-%m-%d")
        ));
        out.push_str(&format!(
            "  plan:        {planned} customers to migrate in {} wave(s): {} purchases, {} user swaps, {} suspensions; {invitations} invitation(s)\n",
            self.waves.len(),
            self.steps(StepKind::Buy),
            self.steps(StepKind::Swap),
            self.steps(StepKind::Suspend)
        ));
        if let Some(n) = &self.new_commerce {
            out.push_str(&format!(
                "  server side: {} migration(s) planned, {} completed (median {:.0} min, longest {:.0} min), {} failure(s) met; {} upgrade(s), {} transition(s); {} subscription(s) the server would not move\n",
                n.planned,
                n.completed,
                n.median_minutes,
                n.longest_minutes,
                n.failed,
                n.upgrades,
                n.transitions,
                n.blocked.len()
            ));
        }
        out.push_str(&format!(
            "  requests:    {} ({} of Partner Center time at {}/min); wall {:.2} s ({:.0} requests/s){}\n",
            self.requests,
            human_minutes(self.migration_minutes),
            self.rate,
            self.wall_seconds,
            self.requests as f64 / self.wall_seconds.max(1e-9),
            if self.shards > 1 {
                format!("; {} worlds side by side, the rate split", self.shards)
            } else {
                String::new()
            }
        ));
        out.push_str(&format!(
            "  at risk:     {} customer(s) would lose licenses if the migration started at {}{}\n",
            self.at_risk.len(),
            self.start.format("%Y-%m-%d %H:%M"),
            if self.at_risk.is_empty() { String::new() } else { format!(": {}", preview(&self.at_risk)) }
        ));
        out.push_str(&format!("  customers must act: {}\n", self.actions.len()));
        if let Some(n) = self.token_renewals {
            out.push_str(&format!("  sign-in:     refresh-token flow, access token renewed {n} time(s)\n"));
        }
        out.push_str(&format!(
            "  invariants:  {} ({} unexpected violation(s), {} expected on customers at risk or out of reach)\n",
            if self.passed() { "held" } else { "VIOLATED" },
            self.verdict.unexpected.len(),
            self.verdict.expected.len()
        ));
        if let Some(f) = &self.faults {
            let injected: u64 = f.injected.values().sum();
            out.push_str(&format!(
                "  faults:      {injected} injected, {} throttled by rate limits, {} orders answered from the MS-RequestId window; {} of waiting; {} resumed run(s)\n",
                f.throttled,
                f.replayed_orders,
                human_minutes(f.waited_minutes),
                f.resumed_runs
            ));
        }
        for d in &self.verdict.double_purchases {
            out.push_str(&format!("  bought twice: {d}\n"));
        }
        for i in &self.verdict.incomplete {
            out.push_str(&format!("  incomplete:  {i}\n"));
        }
        if let Some(v) = self.verdict.unexpected.first() {
            out.push_str(&format!("  first violation (seed {}): {}\n", self.seed, v.message));
            for line in &self.verdict.log_excerpt {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(p) = report {
            out.push_str(&format!("  report:      {}\n", p.display()));
        }
        out
    }
}

fn preview(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    if names.len() > 5 { format!("{}, and {} more", shown.join(", "), names.len() - 5) } else { shown.join(", ") }
}
