//! The migration report: per customer, what was bought, how many users moved, what was
//! suspended, what migrated to new commerce (and what the server refused), what the customer
//! must do themselves, invitations outstanding, and errors.
//! Built from the plan and the journal (so `skuswap status` needs no network), rendered as a
//! table, JSON or Markdown.

use std::fmt::Write as _;

use serde::Serialize;

use crate::journal::{StepRecord, StepState};
use crate::plan::{CustomerAction, Plan, Step};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerReport {
    pub customer_id: String,
    pub name: String,
    pub deadline: Option<String>,
    pub at_risk: bool,
    /// "done", "in progress", "failed", "not started", "waiting for customer".
    pub state: String,
    pub seats_bought: Vec<String>,
    pub users_planned: usize,
    pub users_moved: usize,
    pub suspensions_planned: usize,
    pub suspended: usize,
    /// Subscriptions planned for new commerce, and those whose migration completed.
    #[serde(skip_serializing_if = "is_zero")]
    pub migrations_planned: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub migrated: usize,
    /// Subscriptions the server would not migrate, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    pub customer_actions: Vec<String>,
    pub invitation_outstanding: bool,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub plan_id: String,
    pub customers: Vec<CustomerReport>,
}

pub fn report(plan: &Plan, records: &[StepRecord]) -> Report {
    let customers = plan
        .customers
        .iter()
        .map(|c| {
            let rec = |i: usize| records.iter().find(|r| r.customer == c.customer_id && r.index == i);
            let done = |i: usize| rec(i).is_some_and(|r| r.state == StepState::Done);
            let mut seats_bought = Vec::new();
            let (mut users_planned, mut users_moved, mut suspensions_planned, mut suspended) = (0, 0, 0, 0);
            let (mut migrations_planned, mut migrated) = (0, 0);
            for (i, step) in c.steps.iter().enumerate() {
                match step {
                    Step::Buy { offer_name, quantity, .. } if done(i) => {
                        seats_bought.push(format!("{offer_name} x{quantity}"))
                    }
                    Step::Buy { .. } => {}
                    Step::Swap { .. } => {
                        users_planned += 1;
                        users_moved += usize::from(done(i));
                    }
                    Step::Suspend { .. } => {
                        suspensions_planned += 1;
                        suspended += usize::from(done(i));
                    }
                    Step::Migrate { .. } | Step::Upgrade { .. } | Step::Transition { .. } => {
                        migrations_planned += 1;
                        migrated += usize::from(done(i));
                    }
                }
            }
            let errors: Vec<String> = (0..c.steps.len())
                .filter_map(rec)
                .filter(|r| r.state == StepState::Failed)
                .map(|r| format!("step {} ({}): {}", r.index + 1, r.kind, r.outcome))
                .collect();
            let unknown = (0..c.steps.len()).filter_map(rec).any(|r| r.state == StepState::Intended);
            let steps_done = (0..c.steps.len()).filter(|i| done(*i)).count();
            let invitation_outstanding = c.actions.iter().any(|a| matches!(a, CustomerAction::AcceptInvitation { .. }));
            let state = if !errors.is_empty() {
                "failed"
            } else if c.steps.is_empty() && invitation_outstanding {
                "waiting for customer"
            } else if steps_done == c.steps.len() {
                "done"
            } else if steps_done > 0 || unknown {
                "in progress"
            } else {
                "not started"
            };
            CustomerReport {
                customer_id: c.customer_id.clone(),
                name: c.name.clone(),
                deadline: c.deadline.map(|d| d.format("%Y-%m-%d").to_string()),
                at_risk: c.at_risk,
                state: state.to_string(),
                seats_bought,
                users_planned,
                users_moved,
                suspensions_planned,
                suspended,
                migrations_planned,
                migrated,
                blocked: c.blocked.iter().map(|b| format!("{}: {}", b.offer_name, b.reason)).collect(),
                customer_actions: c.actions.iter().map(CustomerAction::describe).collect(),
                invitation_outstanding,
                errors,
            }
        })
        .collect();
    Report { plan_id: plan.id.clone(), customers }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Report {
    pub fn all_done(&self) -> bool {
        self.customers.iter().all(|c| c.state == "done" || c.state == "waiting for customer")
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:<20} {:<11} {:>11} {:>9}  BOUGHT",
            "CUSTOMER", "STATE", "DEADLINE", "USERS", "SUSPENDED"
        );
        for c in &self.customers {
            let _ = writeln!(
                out,
                "{:<28} {:<20} {:<11} {:>11} {:>9}  {}",
                c.name.chars().take(28).collect::<String>(),
                format!("{}{}", c.state, if c.at_risk { " (at risk)" } else { "" }),
                c.deadline.as_deref().unwrap_or("-"),
                format!("{}/{}", c.users_moved, c.users_planned),
                format!("{}/{}", c.suspended, c.suspensions_planned),
                if c.seats_bought.is_empty() { "-".to_string() } else { c.seats_bought.join(", ") }
            );
            for a in &c.customer_actions {
                let _ = writeln!(out, "    customer must: {a}");
            }
            for e in &c.errors {
                let _ = writeln!(out, "    error: {e}");
            }
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("# Migration report (plan {})\n\n", self.plan_id);
        out.push_str("| customer | state | deadline | users moved | suspended | bought |\n|---|---|---|---|---|---|\n");
        for c in &self.customers {
            let _ = writeln!(
                out,
                "| {} | {}{} | {} | {}/{} | {}/{} | {} |",
                c.name,
                c.state,
                if c.at_risk { " (at risk)" } else { "" },
                c.deadline.as_deref().unwrap_or("-"),
                c.users_moved,
                c.users_planned,
                c.suspended,
                c.suspensions_planned,
                if c.seats_bought.is_empty() { "-".to_string() } else { c.seats_bought.join(", ") }
            );
        }
        let actions: Vec<_> =
            self.customers.iter().flat_map(|c| c.customer_actions.iter().map(move |a| (c, a))).collect();
        if !actions.is_empty() {
            out.push_str("\n## What customers must do\n\n");
            for (c, a) in actions {
                let _ = writeln!(out, "- **{}**: {a}", c.name);
            }
        }
        let errors: Vec<_> = self.customers.iter().flat_map(|c| c.errors.iter().map(move |e| (c, e))).collect();
        if !errors.is_empty() {
            out.push_str("\n## Errors\n\n");
            for (c, e) in errors {
                let _ = writeln!(out, "- **{}**: {e}", c.name);
            }
        }
        out
    }
}
