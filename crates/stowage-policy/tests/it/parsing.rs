//! Policy validation with IAM's messages. Columns: kind (`id` or `res`) | document |
//! `ok` or the exact message.

use stowage_policy::{Policy, PolicyKind};

use crate::support::{doc, report, rows};

const CASES: &str = r#"
# Shapes IAM accepts.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*'} | ok
id | {'Version':'2012-10-17','Statement':{'Effect':'Allow','Action':'ecr:*','Resource':'*'}} | ok
id | {'Version':'2008-10-17','Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | ok
id | {'Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | ok
id | {'Version':'2012-10-17','Id':'mine','Statement':[{'Sid':'One1','Effect':'Deny','Action':['ecr:PutImage','ecr:Get*'],'Resource':['*']}]} | ok
id | {'Effect':'Allow','NotAction':'iam:*','NotResource':'{ecr}:{A}:repository/x'} | ok
id | {'Effect':'Allow','Action':'*','Resource':'arn:aws:ecr:*'} | ok
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{}} | ok
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'aws:username':['a','b']},'NumericLessThan':{'ecr:n':5},'Bool':{'aws:SecureTransport':true}}} | ok
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'ForAllValues:StringLikeIfExists':{'aws:TagKeys':[]}}} | ok
id | [{'Sid':'','Effect':'Allow','Action':'ecr:*','Resource':'*'},{'Sid':'','Effect':'Allow','Action':'ecr:*','Resource':'*'}] | ok
res | {'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage'} | ok
res | {'Effect':'Allow','Principal':{'AWS':'*'},'Action':'ecr:BatchGetImage'} | ok
res | {'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':'ecr:BatchGetImage'} | ok
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::{B}:root'},'Action':'ecr:BatchGetImage'} | ok
res | {'Effect':'Allow','Principal':{'AWS':['arn:aws:iam::{B}:user/path/bob','arn:aws:iam::{B}:role/R','arn:aws:sts::{B}:assumed-role/R/s']},'Action':'ecr:*'} | ok
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:sts::{B}:federated-user/fred'},'Action':'ecr:*'} | ok
res | {'Effect':'Allow','Principal':{'Service':'ecr.amazonaws.com'},'Action':'ecr:*'} | ok
res | {'Effect':'Allow','Principal':{'Service':['ecr.amazonaws.com','lambda.amazonaws.com'],'AWS':'{B}'},'Action':'ecr:*'} | ok
res | {'Effect':'Allow','Principal':{'Federated':'cognito-identity.amazonaws.com'},'Action':'ecr:*'} | ok
res | {'Effect':'Allow','Principal':{'CanonicalUser':'79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be'},'Action':'ecr:*'} | ok
res | {'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:user/alice','{A}']},'Action':'ecr:*'} | ok
res | {'Sid':'Pull from B','Effect':'Allow','Principal':{'AWS':'{B}'},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer','ecr:BatchCheckLayerAvailability']} | ok
res | {'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'{ecr}:{A}:repository/app'} | ok
res | {'Effect':'Allow','Principal':'*','NotAction':'ecr:Delete*','NotResource':'{ecr}:{A}:repository/app'} | ok
# JSON and structure.
id | nope | Syntax errors in policy.
id | {'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}] | Syntax errors in policy.
id | [] | Syntax errors in policy.
id | "just a string" | Syntax errors in policy.
id | {'Version':'2012-10-17'} | Syntax errors in policy.
id | {'Version':'2012-10-17','Statement':[]} | Syntax errors in policy.
id | {'Version':'2012-10-17','Statement':'Allow'} | Syntax errors in policy.
id | {'Version':'2012-10-17','Statement':['Allow']} | Syntax errors in policy.
id | {'Version':'2012-10-17','statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | Syntax errors in policy.
id | {'Version':'2012-10-17','Foo':1,'Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | Syntax errors in policy.
id | {'Version':'2012-10-17','Id':5,'Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | Syntax errors in policy.
id | {'Version':'2012-10-18','Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | The policy failed legacy parsing
id | {'Version':'2012-10-17 ','Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | The policy failed legacy parsing
id | {'Version':20121017,'Statement':[{'Effect':'Allow','Action':'ecr:*','Resource':'*'}]} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Effects':'Allow'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','sid':'x'} | Syntax errors in policy.
id | {'Sid':5,'Effect':'Allow','Action':'ecr:*','Resource':'*'} | Syntax errors in policy.
# Effect.
id | {'Action':'ecr:*','Resource':'*'} | Missing required field Effect
id | {'Effect':'allow','Action':'ecr:*','Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Permit','Action':'ecr:*','Resource':'*'} | Syntax errors in policy.
id | {'Effect':['Allow'],'Action':'ecr:*','Resource':'*'} | Syntax errors in policy.
# Principals.
id | {'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'*'} | Policy document should not specify a principal.
id | {'Effect':'Allow','NotPrincipal':{'AWS':'{A}'},'Action':'ecr:*','Resource':'*'} | Policy document should not specify a principal.
res | {'Effect':'Allow','Action':'ecr:*'} | Missing required field Principal
res | {'Effect':'Allow','Principal':'*','NotPrincipal':'*','Action':'ecr:*'} | Syntax errors in policy.
res | {'Effect':'Allow','Principal':'arn:aws:iam::{A}:root','Action':'ecr:*'} | Invalid principal in policy: "arn:aws:iam::111111111111:root"
res | {'Effect':'Allow','Principal':{'AWS':'alice'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"alice"
res | {'Effect':'Allow','Principal':{'AWS':'1234'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"1234"
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::{A}:group/devs'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:group/devs"
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::{A}:user/*'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:user/*"
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::*:root'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"arn:aws:iam::*:root"
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::{A}:user/'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:user/"
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:sts::{A}:assumed-role/R'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"arn:aws:sts::111111111111:assumed-role/R"
res | {'Effect':'Allow','Principal':{'AWS':'arn:aws:ecr:us-east-1:{A}:repository/x'},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"arn:aws:ecr:us-east-1:111111111111:repository/x"
res | {'Effect':'Allow','Principal':{'AWS':[]},'Action':'ecr:*'} | Invalid principal in policy: "AWS":""
res | {'Effect':'Allow','Principal':{'AWS':['{A}','bogus']},'Action':'ecr:*'} | Invalid principal in policy: "AWS":"bogus"
res | {'Effect':'Allow','Principal':{'Service':'*'},'Action':'ecr:*'} | Invalid principal in policy: "Service":"*"
res | {'Effect':'Allow','Principal':{'Foo':'x'},'Action':'ecr:*'} | Invalid principal in policy: "Foo":"x"
res | {'Effect':'Allow','Principal':{},'Action':'ecr:*'} | Syntax errors in policy.
res | {'Effect':'Allow','Principal':5,'Action':'ecr:*'} | Syntax errors in policy.
res | {'Effect':'Allow','Principal':{'AWS':5},'Action':'ecr:*'} | Syntax errors in policy.
# Actions.
id | {'Effect':'Allow','Resource':'*'} | Policy statement must contain actions.
id | {'Effect':'Allow','Action':[],'Resource':'*'} | Policy statement must contain actions.
res | {'Effect':'Allow','Principal':'*'} | Policy statement must contain actions.
id | {'Effect':'Allow','Action':'ecr:*','NotAction':'iam:*','Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'PutImage','Resource':'*'} | Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.
id | {'Effect':'Allow','Action':['ecr:PutImage','PutImage'],'Resource':'*'} | Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.
id | {'Effect':'Allow','Action':'ecr:Put:Image','Resource':'*'} | Actions/Condition can contain only one colon.
id | {'Effect':'Allow','Action':':PutImage','Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:','Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ec r:PutImage','Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':5,'Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':[5],'Resource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':{'ecr':'*'},'Resource':'*'} | Syntax errors in policy.
# Resources.
id | {'Effect':'Allow','Action':'ecr:*'} | Policy statement must contain resources.
id | {'Effect':'Allow','Action':'ecr:*','Resource':[]} | Policy statement must contain resources.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'app'} | Resource app must be in ARN format or "*".
id | {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr'} | Resource arn:aws:ecr must be in ARN format or "*".
id | {'Effect':'Allow','Action':'ecr:*','Resource':['*','repository/app']} | Resource repository/app must be in ARN format or "*".
id | {'Effect':'Allow','Action':'ecr:*','Resource':'**'} | Resource ** must be in ARN format or "*".
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','NotResource':'*'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':5} | Syntax errors in policy.
res | {'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'app'} | Resource app must be in ARN format or "*".
res | {'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':[]} | Policy statement must contain resources.
# Statement ids.
id | {'Sid':'has space','Effect':'Allow','Action':'ecr:*','Resource':'*'} | Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*
id | {'Sid':'dash-ed','Effect':'Allow','Action':'ecr:*','Resource':'*'} | Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*
id | [{'Sid':'S1','Effect':'Allow','Action':'ecr:*','Resource':'*'},{'Sid':'S1','Effect':'Deny','Action':'ecr:*','Resource':'*'}] | Statement IDs (SID) in a single policy must be unique.
res | [{'Sid':'same one','Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Sid':'same one','Effect':'Deny','Principal':'*','Action':'ecr:*'}] | Statement IDs (SID) in a single policy must be unique.
# Conditions.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEqualz':{'aws:username':'a'}}} | Unsupported condition operator: StringEqualz
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'stringequals':{'aws:username':'a'}}} | Unsupported condition operator: stringequals
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'ForAnyValue:Null':{'aws:TagKeys':'true'}}} | Unsupported condition operator: ForAnyValue:Null
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'NullIfExists':{'aws:TagKeys':'true'}}} | Unsupported condition operator: NullIfExists
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'ForSomeValues:StringEquals':{'aws:TagKeys':'a'}}} | Unsupported condition operator: ForSomeValues:StringEquals
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'username':'a'}}} | Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{':username':'a'}}} | Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':'StringEquals'} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':'aws:username'}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'aws:username':{'a':'b'}}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'aws:username':null}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'aws:username':[['a']]}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'NumericLessThan':{'ecr:n':'abc'}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'NumericLessThan':{'ecr:n':['1','x']}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'DateLessThan':{'aws:CurrentTime':'tomorrow'}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'DateLessThan':{'aws:CurrentTime':'2024-02-30'}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'NotIpAddress':{'aws:SourceIp':'intranet'}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'Bool':{'aws:SecureTransport':'yes'}}} | Syntax errors in policy.
id | {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'Null':{'aws:TagKeys':'maybe'}}} | Syntax errors in policy.
"#;

#[test]
fn validation_messages() {
    let rows = rows(CASES, 3);
    let mut failures = Vec::new();
    for (line, c) in &rows {
        let kind = match c[0] {
            "id" => PolicyKind::Identity,
            "res" => PolicyKind::Resource,
            other => panic!("line {line}: bad kind {other:?}"),
        };
        let got = match Policy::parse(&doc(c[1]), kind) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        if got != c[2] {
            failures.push(format!("  line {line}: got {got:?}, want {:?}", c[2]));
        }
    }
    report("validation", rows.len(), failures);
}

#[test]
fn normalization() {
    let parse = |text: &str| Policy::parse(&doc(text), PolicyKind::Resource).unwrap();
    // An account id and the account's root ARN are the same principal.
    assert_eq!(
        parse("{'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':'ecr:*'}"),
        parse("{'Effect':'Allow','Principal':{'AWS':['arn:aws:iam::{B}:root']},'Action':['ecr:*']}")
    );
    // A single statement object equals a one-element list.
    assert_eq!(
        Policy::parse(
            &doc("{'Version':'2012-10-17','Statement':{'Effect':'Allow','Principal':'*','Action':'ecr:*'}}"),
            PolicyKind::Resource
        )
        .unwrap(),
        parse("[{'Effect':'Allow','Principal':'*','Action':'ecr:*'}]")
    );
    // Serialization is canonical JSON that parses back to the same policy.
    let p = parse(
        "{'Sid':'x y','Effect':'Deny','NotPrincipal':{'Service':'ecr.amazonaws.com','AWS':['{A}','*']},'NotAction':'ecr:Get*','Condition':{'StringEquals':{'aws:username':'a'},'Bool':{'aws:SecureTransport':false}}}",
    );
    let text = p.to_string();
    assert_eq!(
        text,
        doc(
            "{'Version':'2012-10-17','Statement':[{'Sid':'x y','Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:root','*'],'Service':'ecr.amazonaws.com'},'NotAction':'ecr:Get*','Condition':{'Bool':{'aws:SecureTransport':'false'},'StringEquals':{'aws:username':'a'}}}]}"
        )
    );
    assert_eq!(Policy::parse(&text, PolicyKind::Resource).unwrap(), p);
    assert_eq!(serde_json::to_string(&p).unwrap(), text);
    assert_eq!(Policy::from_value(&p.to_value(), PolicyKind::Resource).unwrap(), p);
}

/// The number of validation cases.
pub fn case_count() -> usize {
    rows(CASES, 3).len()
}
