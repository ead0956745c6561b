//! Condition operators (spec §5.4): their names, the validation of policy-side
//! values, and their evaluation against a request [`Context`].
//!
//! Semantics, restating IAM's documentation where it is explicit:
//! - Several operators, and several keys under one operator, are ANDed; several
//!   values of one key are ORed — and NORed for a negated operator
//!   (`StringNotEquals` with `["a","b"]` holds when the value is neither).
//! - Key absent (no value, or an empty list of values): the condition is false,
//!   except that a negated operator (`StringNotEquals`, `StringNotEqualsIgnoreCase`,
//!   `StringNotLike`, `NumericNotEquals`, `DateNotEquals`, `NotIpAddress`,
//!   `ArnNotEquals`, `ArnNotLike`) and any `…IfExists` operator are true. `Null`
//!   tests presence itself: `"true"` holds when the key is absent.
//! - `ForAllValues:` holds when every request value satisfies the operator, and so
//!   when the key is absent. `ForAnyValue:` holds when at least one does, and so is
//!   false when the key is absent — also with `…IfExists`, whose test runs per value
//!   inside the set loop and never sees the absent key (IAM behaves so).
//! - Without a set qualifier a multi-valued key behaves as `ForAnyValue` for a
//!   positive operator and as `ForAllValues` for a negated one.
//! - A request value that cannot be read as the operator's type (a non-numeric value
//!   for `NumericLessThan`, a non-date for `DateGreaterThan`, a non-IP for
//!   `IpAddress`, a non-ARN for `ArnLike`, neither true nor false for `Bool`)
//!   satisfies neither the operator nor its negation.

use crate::context::Context;
use crate::error::PolicyError;
use crate::matching::{arn_matches, glob};
use crate::values::{parse_bool, parse_cidr, parse_date, parse_ip, parse_number};

/// One key tested by one operator: `"StringEquals": {"aws:username": ["a", "b"]}`
/// is one `Condition` with two values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: Operator,
    /// The key as written in the policy; looked up case-insensitively.
    pub key: String,
    /// The policy's values, as strings (JSON numbers and booleans are stringified).
    pub values: Vec<String>,
}

/// A full operator name: optional set qualifier, base operator, optional `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator {
    pub set: Option<SetQualifier>,
    pub base: BaseOperator,
    pub if_exists: bool,
}

/// `ForAnyValue:` or `ForAllValues:`, for multi-valued keys such as `aws:TagKeys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    ForAnyValue,
    ForAllValues,
}

macro_rules! base_operators {
    ($($name:ident),* $(,)?) => {
        /// The operators of IAM's condition language (spec §5.4, plus `BinaryEquals`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum BaseOperator { $($name),* }

        impl BaseOperator {
            /// Every operator, in IAM's documentation order.
            pub const ALL: &[BaseOperator] = &[$(BaseOperator::$name),*];

            /// The operator's name as written in a policy.
            pub fn name(self) -> &'static str {
                match self { $(BaseOperator::$name => stringify!($name)),* }
            }
        }
    };
}

base_operators!(
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
);

impl BaseOperator {
    /// Case-sensitive lookup of an operator name, as IAM does.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// A negated operator holds when no policy value matches, and when the key is absent.
    pub fn is_negated(self) -> bool {
        use BaseOperator::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// Is `value` acceptable on the policy side of this operator?
    fn accepts_policy_value(self, value: &str) -> bool {
        use BaseOperator::*;
        match self {
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => parse_number(value).is_some(),
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => parse_date(value).is_some(),
            Bool | Null => parse_bool(value).is_some(),
            IpAddress | NotIpAddress => parse_cidr(value).is_some(),
            _ => true,
        }
    }

    /// Does one request value satisfy the operator against the policy's values?
    /// Positive operators: some policy value matches. Negated: the request value is
    /// readable and no policy value matches.
    fn holds_for(self, value: &str, policy: &[String]) -> bool {
        use BaseOperator::*;
        let any = |f: &dyn Fn(&str) -> bool| policy.iter().any(|p| f(p));
        let none = |f: &dyn Fn(&str) -> bool| !policy.iter().any(|p| f(p));
        match self {
            StringEquals => any(&|p| p == value),
            StringNotEquals => none(&|p| p == value),
            StringEqualsIgnoreCase => any(&|p| eq_ignore_case(p, value)),
            StringNotEqualsIgnoreCase => none(&|p| eq_ignore_case(p, value)),
            StringLike => any(&|p| glob(p, value)),
            StringNotLike => none(&|p| glob(p, value)),
            BinaryEquals => any(&|p| p == value),
            ArnEquals | ArnLike => any(&|p| arn_matches(p, value)),
            ArnNotEquals | ArnNotLike => {
                crate::matching::arn_parts(value).is_some() && none(&|p| arn_matches(p, value))
            }
            Bool => parse_bool(value).is_some_and(|v| any(&|p| parse_bool(p) == Some(v))),
            IpAddress => parse_ip(value).is_some_and(|ip| any(&|p| parse_cidr(p).is_some_and(|net| net.contains(&ip)))),
            NotIpAddress => {
                parse_ip(value).is_some_and(|ip| none(&|p| parse_cidr(p).is_some_and(|net| net.contains(&ip))))
            }
            NumericEquals => compare(parse_number, value, policy, |v, p| v == p),
            NumericLessThan => compare(parse_number, value, policy, |v, p| v < p),
            NumericLessThanEquals => compare(parse_number, value, policy, |v, p| v <= p),
            NumericGreaterThan => compare(parse_number, value, policy, |v, p| v > p),
            NumericGreaterThanEquals => compare(parse_number, value, policy, |v, p| v >= p),
            NumericNotEquals => parse_number(value).is_some() && !compare(parse_number, value, policy, |v, p| v == p),
            DateEquals => compare(parse_date, value, policy, |v, p| v == p),
            DateLessThan => compare(parse_date, value, policy, |v, p| v < p),
            DateLessThanEquals => compare(parse_date, value, policy, |v, p| v <= p),
            DateGreaterThan => compare(parse_date, value, policy, |v, p| v > p),
            DateGreaterThanEquals => compare(parse_date, value, policy, |v, p| v >= p),
            DateNotEquals => parse_date(value).is_some() && !compare(parse_date, value, policy, |v, p| v == p),
            // Null never reaches here: it is decided on presence alone.
            Null => false,
        }
    }
}

/// Is there a policy value `p` with `test(value, p)`, both read by `parse`?
fn compare<T: Copy>(parse: fn(&str) -> Option<T>, value: &str, policy: &[String], test: fn(T, T) -> bool) -> bool {
    parse(value).is_some_and(|v| policy.iter().filter_map(|p| parse(p)).any(|p| test(v, p)))
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

impl Operator {
    /// Parses `[ForAnyValue:|ForAllValues:]<Base>[IfExists]`; `None` for anything
    /// else, including `Null` with a qualifier or `IfExists`.
    pub fn parse(name: &str) -> Option<Self> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let base = BaseOperator::from_name(base)?;
        if base == BaseOperator::Null && (set.is_some() || if_exists) {
            return None;
        }
        Some(Self { set, base, if_exists })
    }

    /// The operator's name as written in a policy.
    pub fn name(&self) -> String {
        let set = match self.set {
            None => "",
            Some(SetQualifier::ForAnyValue) => "ForAnyValue:",
            Some(SetQualifier::ForAllValues) => "ForAllValues:",
        };
        let if_exists = if self.if_exists { "IfExists" } else { "" };
        format!("{set}{}{if_exists}", self.base.name())
    }
}

impl Condition {
    /// Validates the key (it needs a `vendor:` prefix) and the policy values (numbers
    /// for `Numeric*`, dates for `Date*`, true/false for `Bool` and `Null`, addresses
    /// or CIDR blocks for `IpAddress`).
    pub(crate) fn new(operator: Operator, key: &str, values: Vec<String>) -> Result<Self, PolicyError> {
        match key.split_once(':') {
            Some((vendor, rest)) if !vendor.is_empty() && !rest.is_empty() => {}
            _ => {
                return Err(PolicyError::MissingVendor { value: key.to_owned() });
            }
        }
        if let Some(bad) = values.iter().find(|v| !operator.base.accepts_policy_value(v)) {
            return Err(PolicyError::syntax(format!(
                "{bad:?} is not a valid value for {} on {key}",
                operator.name()
            )));
        }
        Ok(Self {
            operator,
            key: key.to_owned(),
            values,
        })
    }

    /// Does the request context satisfy this condition? (See the module docs.)
    pub fn holds(&self, context: &Context) -> bool {
        let present = context.get(&self.key);
        let op = self.operator;
        if op.base == BaseOperator::Null {
            let absent = present.is_none();
            return self.values.iter().any(|v| parse_bool(v) == Some(absent));
        }
        let holds = |v: &String| op.base.holds_for(v, &self.values);
        match (op.set, present) {
            (Some(SetQualifier::ForAnyValue), None) => false,
            (Some(SetQualifier::ForAllValues), None) => true,
            (None, None) => op.if_exists || op.base.is_negated(),
            (Some(SetQualifier::ForAnyValue), Some(values)) => values.iter().any(holds),
            (Some(SetQualifier::ForAllValues), Some(values)) => values.iter().all(holds),
            (None, Some(values)) if op.base.is_negated() => values.iter().all(holds),
            (None, Some(values)) => values.iter().any(holds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_round_trip() {
        for base in BaseOperator::ALL {
            for set in [None, Some(SetQualifier::ForAnyValue), Some(SetQualifier::ForAllValues)] {
                for if_exists in [false, true] {
                    let op = Operator {
                        set,
                        base: *base,
                        if_exists,
                    };
                    let parsed = Operator::parse(&op.name());
                    if *base == BaseOperator::Null && (set.is_some() || if_exists) {
                        assert_eq!(parsed, None, "{}", op.name());
                    } else {
                        assert_eq!(parsed, Some(op), "{}", op.name());
                    }
                }
            }
        }
        for bad in [
            "stringequals",
            "StringEqual",
            "ForSomeValues:StringEquals",
            "IfExists",
            "",
        ] {
            assert_eq!(Operator::parse(bad), None, "{bad}");
        }
    }
}
