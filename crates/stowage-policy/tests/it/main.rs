//! The one integration test binary of stowage-policy: table-driven evaluation,
//! every condition operator, every cross-account combination, validation messages,
//! managed policies, the lock-out check, denial messages and property tests.

mod conditions;
mod cross_account;
mod evaluation;
mod fuzz_regressions;
mod lockout;
mod managed;
mod messages;
mod parsing;
mod properties;
mod support;

/// The tables together hold hundreds of cases; keep it that way.
#[test]
fn case_counts() {
    let counts = [
        ("evaluation", evaluation::case_count()),
        ("conditions", conditions::case_count()),
        ("cross-account", cross_account::COMBINATIONS),
        ("validation", parsing::case_count()),
    ];
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    println!("table cases: {counts:?}, total {total}");
    assert!(total >= 500, "{counts:?}");
}
