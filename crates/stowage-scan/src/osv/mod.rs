//! OSV advisories (<https://ossf.github.io/osv-schema/>): the record
//! ([`model`], [`parse`]), whether a version is affected ([`ranges`], by the
//! schema's evaluation algorithm, and [`matching`], per ecosystem), how
//! severe it is ([`severity`], on ECR's scale), and reading records in bulk
//! from files, directories and osv.dev's zip dumps ([`source`]).

pub mod matching;
pub mod model;
pub mod ranges;
pub mod severity;
pub mod source;

pub use matching::{Match, MatchError, base_ecosystem, match_package, normalize_name};
pub use model::{
    Advisory, Affected, Event, Format, Package, ParseError, Range, RangeType, Reference, ScoreType, SeverityScore,
    parse,
};
pub use ranges::{Verdict, affects, evaluate, fixed_in};
pub use severity::{Severity, SeverityLevel, SeveritySource, severity};
pub use source::{Advisories, Origin, ReadError, read};

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod proptests;
