//! Stowage's IAM policy language, with no I/O: policy documents parsed and
//! validated with IAM's messages (`document`), wildcard matching (`matching`),
//! condition operators (`condition`), the one evaluator every request goes through
//! (`evaluate`), AWS's managed ECR policies (`managed`), and every client-visible
//! text (`messages`).
//!
//! ```
//! use stowage_policy::{evaluate, Context, Decision, Policy, PolicySet, Principal, Request};
//!
//! let read_only = stowage_policy::managed::READ_ONLY.policy();
//! let alice = Principal::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
//! let context = Context::new().with_principal(&alice);
//! let req = Request {
//!     principal: &alice,
//!     action: "ecr:PutImage",
//!     resource: "arn:aws:ecr:us-east-1:111122223333:repository/app",
//!     resource_account: "111122223333",
//!     context: &context,
//! };
//! let decision = evaluate(&req, &PolicySet { identity: &[read_only], ..Default::default() });
//! assert!(!decision.is_allow());
//! ```

pub mod condition;
pub mod context;
pub mod document;
pub mod error;
pub mod evaluate;
pub mod managed;
pub mod matching;
pub mod messages;
pub mod principal;
pub mod values;

pub use condition::{BaseOperator, Condition, Operator, SetQualifier};
pub use context::{Context, keys};
pub use document::{Clause, Effect, Policy, PolicyKind, PrincipalEntry, Statement, Version};
pub use error::PolicyError;
pub use evaluate::{Decision, PolicySet, PolicyType, Request, evaluate, would_lock_out};
pub use messages::denial_message;
pub use principal::{Principal, PrincipalKind};
