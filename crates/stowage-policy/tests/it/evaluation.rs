//! The evaluator against hand-written cases: AWS's policy-evaluation examples
//! restated for ECR, wildcards, Not-elements, principals, sessions, anonymous and
//! service callers, the root, registry policies and conditions in context.
//! Columns: name | principal | action | resource | policies | context | expect.

use crate::support::run_evaluation_table;

const DOCS_EXAMPLES: &str = r#"
# AWS: "explicit deny overrides any allow" — in the identity policy…
deny beats identity allow | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'ecr:PutImage','Resource':'{ecr}:{A}:repository/app'} | - | deny:identity
deny on one repo leaves others | user:A:alice | ecr:PutImage | A:other | id: @ecr ;; id: {'Effect':'Deny','Action':'ecr:PutImage','Resource':'{ecr}:{A}:repository/app'} | - | allow
deny in same statement list | user:A:alice | ecr:PutImage | A:app | id: [{'Effect':'Allow','Action':'*','Resource':'*'},{'Effect':'Deny','Action':'ecr:Put*','Resource':'*'}] | - | deny:identity
# …and in the resource policy, even when the identity policy allows.
resource deny beats identity allow | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; res: @refuse:arn:aws:iam::{A}:user/alice | - | deny:resource
resource deny beats resource allow | user:A:alice | ecr:BatchGetImage | A:app | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','Principal':{'AWS':'arn:aws:iam::{A}:user/alice'},'Action':'ecr:BatchGetImage'}] | - | deny:resource
resource deny for another user | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; res: @refuse:arn:aws:iam::{A}:user/bob | - | allow
resource deny naming the account hits its users | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; res: @refuse:{A} | - | deny:resource
deny in a second identity policy (group) | user:A:alice | ecr:DeleteRepository | A:app | id: @fa ;; id: {'Effect':'Deny','Action':'ecr:Delete*','Resource':'*'} | - | deny:identity
# AWS: same account, an identity policy alone is enough.
same account identity only | user:A:alice | ecr:BatchGetImage | A:app | id: @ro | - | allow
same account identity other action | user:A:alice | ecr:PutImage | A:app | id: @ro | - | implicit:identity
same account nothing at all | user:A:alice | ecr:BatchGetImage | A:app | - | - | implicit:identity
allow in the second identity policy | user:A:alice | ecr:PutImage | A:app | id: @none ;; id: {'Effect':'Allow','Action':'ecr:PutImage','Resource':'*'} | - | allow
# AWS: same account, a resource policy naming the user is enough on its own.
same account resource names user | user:A:alice | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:user/alice | - | allow
same account resource names other user | user:A:alice | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:user/bob | - | implicit:identity
same account resource names the account only | user:A:alice | ecr:PutImage | A:app | res: @grant:{A} | - | implicit:identity
same account resource names account root ARN only | user:A:alice | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:root | - | implicit:identity
same account account grant plus identity | user:A:alice | ecr:PutImage | A:app | id: @pu ;; res: @grant:{A} | - | allow
same account resource grants star | user:A:alice | ecr:PutImage | A:app | res: @grant:* | - | allow
same account resource grants AWS star | user:A:alice | ecr:PutImage | A:app | res: {'Effect':'Allow','Principal':{'AWS':'*'},'Action':'ecr:PutImage'} | - | allow
same account resource other action | user:A:alice | ecr:PutImage | A:app | res: {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::{A}:user/alice'},'Action':'ecr:BatchGetImage'} | - | implicit:identity
same account resource in principal list | user:A:alice | ecr:PutImage | A:app | res: {'Effect':'Allow','Principal':{'AWS':['arn:aws:iam::{A}:user/bob','arn:aws:iam::{A}:user/alice']},'Action':'ecr:PutImage'} | - | allow
# AWS example: Carlos' identity policy and a repository policy, combined per action.
carlos identity part | user:A:carlos | ecr:BatchGetImage | A:x | id: [{'Effect':'Allow','Action':'ecr:DescribeRepositories','Resource':'*'},{'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'{ecr}:{A}:repository/x'}] ;; res: @grant:arn:aws:iam::{A}:user/carlos | - | allow
carlos identity describe | user:A:carlos | ecr:DescribeRepositories | A:y | id: [{'Effect':'Allow','Action':'ecr:DescribeRepositories','Resource':'*'}] | - | allow
carlos resource part | user:A:carlos | ecr:PutImage | A:y | id: [{'Effect':'Allow','Action':'ecr:DescribeRepositories','Resource':'*'}] ;; res: {'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::{A}:user/carlos'},'Action':'ecr:PutImage'} | - | allow
carlos neither | user:A:carlos | ecr:PutImage | A:x | id: [{'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'{ecr}:{A}:repository/x'}] | - | implicit:identity
# AWS: across accounts both sides must allow.
cross both allow | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:{B} | - | allow
cross identity only | user:B:bob | ecr:BatchGetImage | A:app | id: @ro | - | implicit:resource
cross resource only | user:B:bob | ecr:BatchGetImage | A:app | res: @grant:{B} | - | implicit:identity
cross neither | user:B:bob | ecr:BatchGetImage | A:app | - | - | implicit:resource
cross resource names bob | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:arn:aws:iam::{B}:user/bob | - | allow
cross resource names root ARN | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:arn:aws:iam::{B}:root | - | allow
cross resource names star | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:* | - | allow
cross resource names other account | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:{C} | - | implicit:resource
cross resource names other user of B | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:arn:aws:iam::{B}:user/eve | - | implicit:resource
cross resource allows other action | user:B:bob | ecr:PutImage | A:app | id: @pu ;; res: {'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']} | - | implicit:resource
cross identity allows other action | user:B:bob | ecr:PutImage | A:app | id: @ro ;; res: @grant:{B} | - | implicit:identity
cross resource deny | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: [{'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':'ecr:*'},{'Effect':'Deny','Principal':{'AWS':'arn:aws:iam::{B}:user/bob'},'Action':'ecr:BatchGetImage'}] | - | deny:resource
cross identity deny | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; id: {'Effect':'Deny','Action':'ecr:*','Resource':'{ecr}:{A}:*'} ;; res: @grant:{B} | - | deny:identity
cross identity scoped to A's repo ARN | user:B:bob | ecr:BatchGetImage | A:app | id: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'{ecr}:{A}:repository/app'} ;; res: @grant:{B} | - | allow
cross identity scoped to own account | user:B:bob | ecr:BatchGetImage | A:app | id: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'{ecr}:{B}:repository/*'} ;; res: @grant:{B} | - | implicit:identity
# AWS: NotAction with Allow allows everything except the listed actions.
notaction allow covers others | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','NotAction':'iam:*','Resource':'*'} | - | allow
notaction allow excludes listed | user:A:alice | iam:CreateUser | * | id: {'Effect':'Allow','NotAction':'iam:*','Resource':'*'} | - | implicit:identity
notaction allow list | user:A:alice | ecr:DeleteRepository | A:app | id: {'Effect':'Allow','NotAction':['ecr:Delete*','ecr:SetRepositoryPolicy'],'Resource':'*'} | - | implicit:identity
notaction allow list other | user:A:alice | ecr:BatchGetImage | A:app | id: {'Effect':'Allow','NotAction':['ecr:Delete*','ecr:SetRepositoryPolicy'],'Resource':'*'} | - | allow
notaction deny denies the rest | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','NotAction':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer'],'Resource':'*'} | - | deny:identity
notaction deny spares listed | user:A:alice | ecr:BatchGetImage | A:app | id: @ecr ;; id: {'Effect':'Deny','NotAction':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer'],'Resource':'*'} | - | allow
notaction in resource policy | user:B:bob | ecr:PutImage | A:app | id: @all ;; res: {'Effect':'Allow','Principal':{'AWS':'{B}'},'NotAction':'ecr:Delete*'} | - | allow
notaction in resource policy excluded | user:B:bob | ecr:DeleteRepository | A:app | id: @all ;; res: {'Effect':'Allow','Principal':{'AWS':'{B}'},'NotAction':'ecr:Delete*'} | - | implicit:resource
# AWS: NotResource.
notresource allow covers others | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','NotResource':'{ecr}:{A}:repository/secret'} | - | allow
notresource allow excludes listed | user:A:alice | ecr:PutImage | A:secret | id: {'Effect':'Allow','Action':'ecr:*','NotResource':'{ecr}:{A}:repository/secret'} | - | implicit:identity
notresource deny outside team | user:A:alice | ecr:PutImage | A:team-b/app | id: @ecr ;; id: {'Effect':'Deny','Action':'ecr:*','NotResource':'{ecr}:{A}:repository/team-a/*'} | - | deny:identity
notresource deny inside team | user:A:alice | ecr:PutImage | A:team-a/app | id: @ecr ;; id: {'Effect':'Deny','Action':'ecr:*','NotResource':'{ecr}:{A}:repository/team-a/*'} | - | allow
notresource deny also hits star resource | user:A:alice | ecr:GetAuthorizationToken | * | id: @ecr ;; id: {'Effect':'Deny','Action':'ecr:*','NotResource':'{ecr}:{A}:repository/team-a/*'} | - | deny:identity
notresource star in list excludes everything | user:A:alice | ecr:PutImage | A:team-b/app | id: @ecr ;; id: {'Effect':'Deny','Action':'ecr:*','NotResource':['{ecr}:{A}:repository/team-a/*','*']} | - | allow
# AWS: NotPrincipal with Deny denies everyone except the listed principals; list the account too.
notprincipal deny spares listed user and account | user:A:alice | ecr:PutImage | A:app | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:user/alice','arn:aws:iam::{A}:root']},'Action':'ecr:*'}] | - | allow
notprincipal deny hits others | user:A:bob | ecr:PutImage | A:app | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:user/alice','arn:aws:iam::{A}:root']},'Action':'ecr:*'}] | - | deny:resource
notprincipal deny without account denies the user too | user:A:alice | ecr:PutImage | A:app | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','NotPrincipal':{'AWS':'arn:aws:iam::{A}:user/alice'},'Action':'ecr:*'}] | - | deny:resource
notprincipal deny role without session ARN | session:A:R/s1 | ecr:PutImage | A:app | id: @ecr ;; res: {'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:role/R','arn:aws:iam::{A}:root']},'Action':'ecr:*'} | - | deny:resource
notprincipal deny role with session ARN | session:A:R/s1 | ecr:PutImage | A:app | id: @ecr ;; res: {'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:role/R','arn:aws:sts::{A}:assumed-role/R/s1','arn:aws:iam::{A}:root']},'Action':'ecr:*'} | - | allow
notprincipal deny other session | session:A:R/s2 | ecr:PutImage | A:app | id: @ecr ;; res: {'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{A}:role/R','arn:aws:sts::{A}:assumed-role/R/s1','arn:aws:iam::{A}:root']},'Action':'ecr:*'} | - | deny:resource
notprincipal deny cross account listed | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: [{'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':'ecr:*'},{'Effect':'Deny','NotPrincipal':{'AWS':['arn:aws:iam::{B}:user/bob','{B}']},'Action':'ecr:*'}] | - | allow
notprincipal deny star spares everyone | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; res: {'Effect':'Deny','NotPrincipal':'*','Action':'ecr:*'} | - | allow
notprincipal deny hits anonymous | anon | ecr:BatchGetImage | A:app | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','NotPrincipal':{'AWS':'{A}'},'Action':'ecr:*'}] | - | deny:resource
notprincipal allow grants outsiders | user:A:bob | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','NotPrincipal':{'AWS':'arn:aws:iam::{A}:user/alice'},'Action':'ecr:*'} | - | allow
notprincipal allow grants anonymous | anon | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','NotPrincipal':{'AWS':'arn:aws:iam::{A}:user/alice'},'Action':'ecr:*'} | - | allow
# AWS: a session policy intersects with the role's identity policies.
session both allow | session:A:R/s1 | ecr:BatchGetImage | A:app | id: @ecr ;; sess: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'} | - | allow
session limits identity | session:A:R/s1 | ecr:PutImage | A:app | id: @ecr ;; sess: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'} | - | implicit:session
session cannot add | session:A:R/s1 | ecr:PutImage | A:app | id: @ro ;; sess: @ecr | - | implicit:identity
session deny | session:A:R/s1 | ecr:PutImage | A:app | id: @ecr ;; sess: [{'Effect':'Allow','Action':'*','Resource':'*'},{'Effect':'Deny','Action':'ecr:PutImage','Resource':'*'}] | - | deny:session
no session policy | session:A:R/s1 | ecr:PutImage | A:app | id: @ecr | - | allow
session limits resource grant to role | session:A:R/s1 | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:role/R ;; sess: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'} | - | implicit:session
resource grant to role within session | session:A:R/s1 | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:role/R ;; sess: @ecr | - | allow
resource grant to role without session policy | session:A:R/s1 | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:role/R | - | allow
resource grant to session ARN ignores session policy | session:A:R/s1 | ecr:PutImage | A:app | res: @grant:arn:aws:sts::{A}:assumed-role/R/s1 ;; sess: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'} | - | allow
resource grant to other session | session:A:R/s2 | ecr:PutImage | A:app | res: @grant:arn:aws:sts::{A}:assumed-role/R/s1 | - | implicit:identity
session resource star still limited | session:A:R/s1 | ecr:PutImage | A:app | res: @grant:* ;; sess: {'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'} | - | implicit:session
session cross account both | session:B:R/s1 | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:{B} ;; sess: @ecr | - | allow
session cross account session limits | session:B:R/s1 | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:{B} ;; sess: {'Effect':'Allow','Action':'ecr:PutImage','Resource':'*'} | - | implicit:session
session cross account session ARN still needs identity | session:B:R/s1 | ecr:BatchGetImage | A:app | res: @grant:arn:aws:sts::{B}:assumed-role/R/s1 | - | implicit:identity
session cross account role ARN grant | session:B:R/s1 | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:arn:aws:iam::{B}:role/R | - | allow
session resource deny on role hits session | session:A:R/s1 | ecr:PutImage | A:app | id: @ecr ;; res: @refuse:arn:aws:iam::{A}:role/R | - | deny:resource
"#;

const WILDCARDS: &str = r#"
describe star matches DescribeImages | user:A:alice | ecr:DescribeImages | A:app | id: {'Effect':'Allow','Action':'ecr:Describe*','Resource':'*'} | - | allow
describe star matches DescribeRepositories | user:A:alice | ecr:DescribeRepositories | A:app | id: {'Effect':'Allow','Action':'ecr:Describe*','Resource':'*'} | - | allow
describe star not ListImages | user:A:alice | ecr:ListImages | A:app | id: {'Effect':'Allow','Action':'ecr:Describe*','Resource':'*'} | - | implicit:identity
describe star not other service | user:A:alice | ec2:DescribeImages | * | id: {'Effect':'Allow','Action':'ecr:Describe*','Resource':'*'} | - | implicit:identity
star image star BatchGetImage | user:A:alice | ecr:BatchGetImage | A:app | id: {'Effect':'Allow','Action':'ecr:*Image*','Resource':'*'} | - | allow
star image star PutImage | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*Image*','Resource':'*'} | - | allow
star image star ListImages | user:A:alice | ecr:ListImages | A:app | id: {'Effect':'Allow','Action':'ecr:*Image*','Resource':'*'} | - | allow
star image star DescribeImageScanFindings | user:A:alice | ecr:DescribeImageScanFindings | A:app | id: {'Effect':'Allow','Action':'ecr:*Image*','Resource':'*'} | - | allow
star image star not CreateRepository | user:A:alice | ecr:CreateRepository | A:app | id: {'Effect':'Allow','Action':'ecr:*Image*','Resource':'*'} | - | implicit:identity
star image star not GetAuthorizationToken | user:A:alice | ecr:GetAuthorizationToken | * | id: {'Effect':'Allow','Action':'ecr:*Image*','Resource':'*'} | - | implicit:identity
question mark one char | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:?utImage','Resource':'*'} | - | allow
question mark needs a char | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:?PutImage','Resource':'*'} | - | implicit:identity
question mark not two chars | user:A:alice | ecr:BatchGetImage | A:app | id: {'Effect':'Allow','Action':'ecr:?GetImage','Resource':'*'} | - | implicit:identity
action case insensitive | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ECR:putimage','Resource':'*'} | - | allow
action case insensitive wildcard | user:A:alice | ecr:BatchGetImage | A:app | id: {'Effect':'Allow','Action':'Ecr:batch*','Resource':'*'} | - | allow
action star matches all services | user:A:alice | iam:CreateUser | * | id: {'Effect':'Allow','Action':'*','Resource':'*'} | - | allow
action ecr star not iam | user:A:alice | iam:CreateUser | * | id: @ecr | - | implicit:identity
action list any | user:A:alice | ecr:UploadLayerPart | A:app | id: {'Effect':'Allow','Action':['ecr:PutImage','ecr:UploadLayerPart'],'Resource':'*'} | - | allow
action prefix not whole | user:A:alice | ecr:PutImageTagMutability | A:app | id: {'Effect':'Allow','Action':'ecr:PutImage','Resource':'*'} | - | implicit:identity
resource team prefix | user:A:alice | ecr:PutImage | A:team-a/app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:*:repository/team-a/*'} | - | allow
resource team nested | user:A:alice | ecr:PutImage | A:team-a/x/y | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:*:repository/team-a/*'} | - | allow
resource team prefix other team | user:A:alice | ecr:PutImage | A:team-b/app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:*:repository/team-a/*'} | - | implicit:identity
resource team prefix not the bare name | user:A:alice | ecr:PutImage | A:team-a | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:*:repository/team-a/*'} | - | implicit:identity
resource team prefix look-alike | user:A:alice | ecr:PutImage | A:team-ab/app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:*:repository/team-a/*'} | - | implicit:identity
resource star spans colons | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*'} | - | allow
resource exact | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'{ecr}:{A}:repository/app'} | - | allow
resource exact other repo | user:A:alice | ecr:PutImage | A:app2 | id: {'Effect':'Allow','Action':'ecr:*','Resource':'{ecr}:{A}:repository/app'} | - | implicit:identity
resource case sensitive | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'{ecr}:{A}:repository/App'} | - | implicit:identity
resource other region | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:eu-west-1:{A}:repository/app'} | - | implicit:identity
resource question mark | user:A:alice | ecr:PutImage | A:app-1 | id: {'Effect':'Allow','Action':'ecr:*','Resource':'{ecr}:{A}:repository/app-?'} | - | allow
resource question mark one only | user:A:alice | ecr:PutImage | A:app-10 | id: {'Effect':'Allow','Action':'ecr:*','Resource':'{ecr}:{A}:repository/app-?'} | - | implicit:identity
resource account wildcard | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'{ecr}:*:repository/app'} | - | allow
resource list | user:A:alice | ecr:PutImage | A:b | id: {'Effect':'Allow','Action':'ecr:*','Resource':['{ecr}:{A}:repository/a','{ecr}:{A}:repository/b']} | - | allow
repo ARN pattern does not match star resource | user:A:alice | ecr:GetAuthorizationToken | * | id: {'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:*:repository/*'} | - | implicit:identity
star resource for token | user:A:alice | ecr:GetAuthorizationToken | * | id: @ro | - | allow
resource policy Resource element limits | user:A:alice | ecr:PutImage | A:app | res: {'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'{ecr}:{A}:repository/other'} | - | implicit:identity
resource policy Resource element matches | user:A:alice | ecr:PutImage | A:app | res: {'Effect':'Allow','Principal':'*','Action':'ecr:*','Resource':'{ecr}:{A}:repository/*'} | - | allow
resource policy NotResource | user:A:alice | ecr:PutImage | A:app | res: {'Effect':'Allow','Principal':'*','Action':'ecr:*','NotResource':'{ecr}:{A}:repository/app'} | - | implicit:identity
"#;

const CALLERS: &str = r#"
# Anonymous callers: only a resource policy naming everyone can allow.
anonymous pull of public repo | anon | ecr:BatchGetImage | A:public | res: {'Effect':'Allow','Principal':'*','Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']} | - | allow
anonymous layer of public repo | anon | ecr:GetDownloadUrlForLayer | A:public | res: {'Effect':'Allow','Principal':'*','Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']} | - | allow
anonymous push to public repo | anon | ecr:PutImage | A:public | res: {'Effect':'Allow','Principal':'*','Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']} | - | implicit:resource
anonymous pull of private repo | anon | ecr:BatchGetImage | A:private | - | - | implicit:resource
anonymous with AWS star | anon | ecr:BatchGetImage | A:public | res: {'Effect':'Allow','Principal':{'AWS':'*'},'Action':'ecr:BatchGetImage'} | - | allow
anonymous not an account member | anon | ecr:BatchGetImage | A:app | res: @grant:{A} | - | implicit:resource
anonymous ignores identity policies | anon | ecr:BatchGetImage | A:app | id: @all | - | implicit:resource
anonymous registry policy star | anon | ecr:BatchGetImage | A:app | reg: @grant:* | - | allow
anonymous denied by star deny | anon | ecr:BatchGetImage | A:public | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','Principal':'*','Action':'ecr:BatchGetImage','Condition':{'Null':{'aws:PrincipalAccount':'true'}}}] | aws:PrincipalType=Anonymous | deny:resource
anonymous deny naming account spares anonymous | anon | ecr:BatchGetImage | A:public | res: [{'Effect':'Allow','Principal':'*','Action':'ecr:*'},{'Effect':'Deny','Principal':{'AWS':'{A}'},'Action':'ecr:*'}] | - | allow
# Service principals.
service named | svc:ecr.amazonaws.com | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','Principal':{'Service':'ecr.amazonaws.com'},'Action':'ecr:BatchGetImage'} | - | allow
service other named | svc:lambda.amazonaws.com | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','Principal':{'Service':'ecr.amazonaws.com'},'Action':'ecr:BatchGetImage'} | - | implicit:resource
service star | svc:lambda.amazonaws.com | ecr:BatchGetImage | A:app | res: @grant:* | - | allow
service not AWS star | svc:lambda.amazonaws.com | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','Principal':{'AWS':'*'},'Action':'ecr:BatchGetImage'} | - | implicit:resource
service with source account condition | svc:lambda.amazonaws.com | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','Principal':{'Service':'lambda.amazonaws.com'},'Action':'ecr:BatchGetImage','Condition':{'StringEquals':{'aws:SourceAccount':'{A}'}}} | aws:SourceAccount={A} | allow
service confused deputy | svc:lambda.amazonaws.com | ecr:BatchGetImage | A:app | res: {'Effect':'Allow','Principal':{'Service':'lambda.amazonaws.com'},'Action':'ecr:BatchGetImage','Condition':{'StringEquals':{'aws:SourceAccount':'{A}'}}} | aws:SourceAccount={B} | implicit:resource
# The account root.
root own account no policies | root:A | ecr:DeleteRepository | A:app | - | - | allow
root own account token | root:A | ecr:GetAuthorizationToken | * | - | - | allow
root denied by resource policy | root:A | ecr:DeleteRepository | A:app | res: @refuse:{A} | - | deny:resource
root denied by star | root:A | ecr:DeleteRepository | A:app | res: @refuse:* | - | deny:resource
root named by root ARN | root:A | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:root | - | allow
root cross account granted | root:B | ecr:BatchGetImage | A:app | res: @grant:{B} | - | allow
root cross account not granted | root:B | ecr:BatchGetImage | A:app | - | - | implicit:resource
root cross account other grant | root:B | ecr:BatchGetImage | A:app | res: @grant:arn:aws:iam::{B}:user/bob | - | implicit:resource
# Roles acting as themselves.
role identity | role:A:R | ecr:PutImage | A:app | id: @pu | - | allow
role named by ARN | role:A:R | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:role/R | - | allow
role other role | role:A:R | ecr:PutImage | A:app | res: @grant:arn:aws:iam::{A}:role/Q | - | implicit:identity
role cross account | role:B:R | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:arn:aws:iam::{B}:role/R | - | allow
# Registry policy (a resource policy of the account).
registry grants cross account | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; reg: {'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer'],'Resource':'{ecr}:{A}:repository/*'} | - | allow
registry grants other repos only | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; reg: {'Effect':'Allow','Principal':{'AWS':'{B}'},'Action':'ecr:BatchGetImage','Resource':'{ecr}:{A}:repository/shared/*'} | - | implicit:resource
registry plus repo | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:{C} ;; reg: @grant:{B} | - | allow
registry deny beats repo allow | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @grant:{B} ;; reg: @refuse:{B} | - | deny:resource
repo deny beats registry allow | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: @refuse:* ;; reg: @grant:{B} | - | deny:resource
registry same account names user | user:A:alice | ecr:ReplicateImage | A:app | reg: @grant:arn:aws:iam::{A}:user/alice | - | allow
# Managed policies.
readonly pulls | user:A:alice | ecr:BatchGetImage | A:app | id: @ro | - | allow
readonly layers | user:A:alice | ecr:GetDownloadUrlForLayer | A:app | id: @ro | - | allow
readonly cannot push | user:A:alice | ecr:PutImage | A:app | id: @ro | - | implicit:identity
readonly cannot upload | user:A:alice | ecr:InitiateLayerUpload | A:app | id: @ro | - | implicit:identity
poweruser pushes | user:A:alice | ecr:PutImage | A:app | id: @pu | - | allow
poweruser uploads | user:A:alice | ecr:CompleteLayerUpload | A:app | id: @pu | - | allow
poweruser cannot delete | user:A:alice | ecr:DeleteRepository | A:app | id: @pu | - | implicit:identity
poweruser cannot set policy | user:A:alice | ecr:SetRepositoryPolicy | A:app | id: @pu | - | implicit:identity
fullaccess deletes | user:A:alice | ecr:DeleteRepository | A:app | id: @fa | - | allow
fullaccess not iam | user:A:alice | iam:CreateUser | * | id: @fa | - | implicit:identity
deny on one repo beats fullaccess | user:A:alice | ecr:PutImage | A:prod | id: @fa ;; id: {'Effect':'Deny','Action':'ecr:PutImage','Resource':'{ecr}:{A}:repository/prod'} | - | deny:identity
"#;

const WITH_CONDITIONS: &str = r#"
deny outside network from outside | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'*','Resource':'*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}} | aws:SourceIp=192.0.2.1 | deny:identity
deny outside network from inside | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'*','Resource':'*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}} | aws:SourceIp=10.1.2.3 | allow
deny outside network without source ip | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'*','Resource':'*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}} | - | deny:identity
deny insecure transport | user:A:alice | ecr:BatchGetImage | A:app | id: @ecr ;; res: {'Effect':'Deny','Principal':'*','Action':'ecr:*','Condition':{'Bool':{'aws:SecureTransport':'false'}}} | aws:SecureTransport=false | deny:resource
secure transport passes | user:A:alice | ecr:BatchGetImage | A:app | id: @ecr ;; res: {'Effect':'Deny','Principal':'*','Action':'ecr:*','Condition':{'Bool':{'aws:SecureTransport':'false'}}} | aws:SecureTransport=true | allow
allow only with tag | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'ecr:ResourceTag/team':'a'}}} | ecr:ResourceTag/team=a | allow
allow only with tag wrong | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'ecr:ResourceTag/team':'a'}}} | ecr:ResourceTag/team=b | implicit:identity
allow only with tag absent | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'ecr:ResourceTag/team':'a'}}} | - | implicit:identity
principal tag matches resource tag | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'StringEquals':{'aws:PrincipalTag/team':'a','aws:ResourceTag/team':'a'}}} | aws:PrincipalTag/team=a; aws:ResourceTag/team=a | allow
cross account org condition | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: {'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage','Condition':{'StringEquals':{'aws:PrincipalAccount':['{B}','{C}']}}} | aws:PrincipalAccount={B} | allow
cross account org condition other | user:B:bob | ecr:BatchGetImage | A:app | id: @ro ;; res: {'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage','Condition':{'StringEquals':{'aws:PrincipalAccount':['{C}']}}} | aws:PrincipalAccount={B} | implicit:resource
create with allowed tags only | user:A:alice | ecr:CreateRepository | A:new | id: {'Effect':'Allow','Action':'ecr:CreateRepository','Resource':'*','Condition':{'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}}} | aws:TagKeys=team,env | allow
create with a forbidden tag | user:A:alice | ecr:CreateRepository | A:new | id: {'Effect':'Allow','Action':'ecr:CreateRepository','Resource':'*','Condition':{'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}}} | aws:TagKeys=team,owner | implicit:identity
expired time window | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}}} | aws:CurrentTime=2024-06-01T00:00:00Z | implicit:identity
inside time window | user:A:alice | ecr:PutImage | A:app | id: {'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}}} | aws:CurrentTime=2023-06-01T00:00:00Z | allow
condition on one statement only | user:A:alice | ecr:BatchGetImage | A:app | id: [{'Effect':'Allow','Action':'ecr:PutImage','Resource':'*','Condition':{'Bool':{'aws:MultiFactorAuthPresent':'true'}}},{'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'}] | aws:MultiFactorAuthPresent=false | allow
condition blocks its statement | user:A:alice | ecr:PutImage | A:app | id: [{'Effect':'Allow','Action':'ecr:PutImage','Resource':'*','Condition':{'Bool':{'aws:MultiFactorAuthPresent':'true'}}},{'Effect':'Allow','Action':'ecr:BatchGetImage','Resource':'*'}] | aws:MultiFactorAuthPresent=false | implicit:identity
deny with ifexists absent denies | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'*','Resource':'*','Condition':{'StringNotEqualsIfExists':{'ecr:ResourceTag/team':'a'}}} | - | deny:identity
deny with ifexists present other | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'*','Resource':'*','Condition':{'StringNotEqualsIfExists':{'ecr:ResourceTag/team':'a'}}} | ecr:ResourceTag/team=b | deny:identity
deny with ifexists present same | user:A:alice | ecr:PutImage | A:app | id: @ecr ;; id: {'Effect':'Deny','Action':'*','Resource':'*','Condition':{'StringNotEqualsIfExists':{'ecr:ResourceTag/team':'a'}}} | ecr:ResourceTag/team=a | allow
"#;

#[test]
fn documentation_examples() {
    run_evaluation_table("documentation examples", DOCS_EXAMPLES);
}

#[test]
fn wildcards() {
    run_evaluation_table("wildcards", WILDCARDS);
}

#[test]
fn callers() {
    run_evaluation_table("callers", CALLERS);
}

#[test]
fn conditions_in_context() {
    run_evaluation_table("conditions in context", WITH_CONDITIONS);
}

/// The number of hand-written evaluation cases (reported by `case_counts`).
pub fn case_count() -> usize {
    [DOCS_EXAMPLES, WILDCARDS, CALLERS, WITH_CONDITIONS]
        .iter()
        .map(|t| crate::support::rows(t, 7).len())
        .sum()
}
