//! Every condition operator, positive and negative, with `IfExists`, set
//! qualifiers, absent keys and values of the wrong type.
//! Columns: name | Condition element | request context | holds?
//! Each row runs twice: in an Allow statement (allowed iff it holds) and in a Deny
//! statement beside an allow-all (denied iff it holds).

use stowage_policy::Decision;

use crate::support::{Policies, context, principal, report, rows};

const CASES: &str = r#"
# String operators: exact, case-sensitive; values OR; negation is NOR; absent → false, negated absent → true.
StringEquals match | {'StringEquals':{'aws:username':'alice'}} | aws:username=alice | true
StringEquals mismatch | {'StringEquals':{'aws:username':'alice'}} | aws:username=bob | false
StringEquals case-sensitive | {'StringEquals':{'aws:username':'alice'}} | aws:username=Alice | false
StringEquals absent | {'StringEquals':{'aws:username':'alice'}} | - | false
StringEquals values OR | {'StringEquals':{'aws:username':['alice','bob']}} | aws:username=bob | true
StringEquals values none | {'StringEquals':{'aws:username':['alice','bob']}} | aws:username=carol | false
StringEquals key case-insensitive | {'StringEquals':{'AWS:UserName':'alice'}} | aws:username=alice | true
StringEquals key case-insensitive other way | {'StringEquals':{'aws:username':'alice'}} | AWS:USERNAME=alice | true
StringEquals tag key case-insensitive | {'StringEquals':{'aws:ResourceTag/Team':'a'}} | aws:resourcetag/team=a | true
StringEquals number value | {'StringEquals':{'ecr:n':5}} | ecr:n=5 | true
StringEquals bool value | {'StringEquals':{'ecr:flag':true}} | ecr:flag=true | true
StringEquals empty list is absent | {'StringEquals':{'ecr:x':''}} | ecr:x= | false
StringEquals two keys both | {'StringEquals':{'aws:username':'alice','aws:PrincipalAccount':'{A}'}} | aws:username=alice; aws:PrincipalAccount={A} | true
StringEquals two keys one | {'StringEquals':{'aws:username':'alice','aws:PrincipalAccount':'{A}'}} | aws:username=alice; aws:PrincipalAccount={B} | false
StringEquals two keys one absent | {'StringEquals':{'aws:username':'alice','aws:PrincipalAccount':'{A}'}} | aws:username=alice | false
two operators both | {'StringEquals':{'aws:username':'alice'},'Bool':{'aws:SecureTransport':'true'}} | aws:username=alice; aws:SecureTransport=true | true
two operators one | {'StringEquals':{'aws:username':'alice'},'Bool':{'aws:SecureTransport':'true'}} | aws:username=alice; aws:SecureTransport=false | false
StringEquals multi-valued key any | {'StringEquals':{'aws:TagKeys':'b'}} | aws:TagKeys=a,b | true
StringEquals multi-valued key none | {'StringEquals':{'aws:TagKeys':'c'}} | aws:TagKeys=a,b | false
empty condition element | {} | - | true
StringNotEquals other | {'StringNotEquals':{'aws:username':'alice'}} | aws:username=bob | true
StringNotEquals same | {'StringNotEquals':{'aws:username':'alice'}} | aws:username=alice | false
StringNotEquals case-sensitive | {'StringNotEquals':{'aws:username':'alice'}} | aws:username=ALICE | true
StringNotEquals absent | {'StringNotEquals':{'aws:username':'alice'}} | - | true
StringNotEquals NOR none listed | {'StringNotEquals':{'aws:username':['alice','bob']}} | aws:username=carol | true
StringNotEquals NOR one listed | {'StringNotEquals':{'aws:username':['alice','bob']}} | aws:username=bob | false
StringNotEquals multi-valued none listed | {'StringNotEquals':{'aws:TagKeys':'c'}} | aws:TagKeys=a,b | true
StringNotEquals multi-valued one listed | {'StringNotEquals':{'aws:TagKeys':'a'}} | aws:TagKeys=a,b | false
StringEqualsIgnoreCase match | {'StringEqualsIgnoreCase':{'aws:username':'ALICE'}} | aws:username=alice | true
StringEqualsIgnoreCase mismatch | {'StringEqualsIgnoreCase':{'aws:username':'ALICE'}} | aws:username=bob | false
StringEqualsIgnoreCase absent | {'StringEqualsIgnoreCase':{'aws:username':'ALICE'}} | - | false
StringEqualsIgnoreCase unicode | {'StringEqualsIgnoreCase':{'ecr:x':'ÉCOLE'}} | ecr:x=école | true
StringNotEqualsIgnoreCase same | {'StringNotEqualsIgnoreCase':{'aws:username':'ALICE'}} | aws:username=alice | false
StringNotEqualsIgnoreCase other | {'StringNotEqualsIgnoreCase':{'aws:username':'ALICE'}} | aws:username=bob | true
StringNotEqualsIgnoreCase absent | {'StringNotEqualsIgnoreCase':{'aws:username':'ALICE'}} | - | true
StringLike star | {'StringLike':{'ecr:ResourceTag/team':'team-*'}} | ecr:ResourceTag/team=team-a | true
StringLike star empty tail | {'StringLike':{'ecr:ResourceTag/team':'team-*'}} | ecr:ResourceTag/team=team- | true
StringLike mismatch | {'StringLike':{'ecr:ResourceTag/team':'team-*'}} | ecr:ResourceTag/team=other | false
StringLike case-sensitive | {'StringLike':{'ecr:ResourceTag/team':'Team-*'}} | ecr:ResourceTag/team=team-a | false
StringLike question | {'StringLike':{'aws:username':'al?ce'}} | aws:username=alice | true
StringLike question one char | {'StringLike':{'aws:username':'al?ce'}} | aws:username=alce | false
StringLike no wildcard is exact | {'StringLike':{'aws:username':'alice'}} | aws:username=alice2 | false
StringLike values OR | {'StringLike':{'aws:username':['a*','b*']}} | aws:username=bob | true
StringLike absent | {'StringLike':{'aws:username':'*'}} | - | false
StringLike star matches empty value | {'StringLike':{'ecr:x':'*'}} | ecr:x=,x | true
StringNotLike match | {'StringNotLike':{'ecr:ResourceTag/team':'team-*'}} | ecr:ResourceTag/team=team-a | false
StringNotLike mismatch | {'StringNotLike':{'ecr:ResourceTag/team':'team-*'}} | ecr:ResourceTag/team=other | true
StringNotLike absent | {'StringNotLike':{'ecr:ResourceTag/team':'team-*'}} | - | true
StringNotLike NOR | {'StringNotLike':{'aws:username':['a*','b*']}} | aws:username=bob | false
# Numeric: a non-numeric request value satisfies neither the operator nor its negation.
NumericEquals equal | {'NumericEquals':{'ecr:n':'10'}} | ecr:n=10 | true
NumericEquals equal decimal form | {'NumericEquals':{'ecr:n':'10'}} | ecr:n=10.0 | true
NumericEquals JSON number | {'NumericEquals':{'ecr:n':10}} | ecr:n=10 | true
NumericEquals other | {'NumericEquals':{'ecr:n':'10'}} | ecr:n=11 | false
NumericEquals non-numeric | {'NumericEquals':{'ecr:n':'10'}} | ecr:n=ten | false
NumericEquals absent | {'NumericEquals':{'ecr:n':'10'}} | - | false
NumericEquals values OR | {'NumericEquals':{'ecr:n':['1','2']}} | ecr:n=2 | true
NumericNotEquals other | {'NumericNotEquals':{'ecr:n':'10'}} | ecr:n=11 | true
NumericNotEquals equal | {'NumericNotEquals':{'ecr:n':'10'}} | ecr:n=10 | false
NumericNotEquals non-numeric | {'NumericNotEquals':{'ecr:n':'10'}} | ecr:n=ten | false
NumericNotEquals absent | {'NumericNotEquals':{'ecr:n':'10'}} | - | true
NumericNotEquals NOR | {'NumericNotEquals':{'ecr:n':['1','2']}} | ecr:n=2 | false
NumericLessThan less | {'NumericLessThan':{'ecr:n':'10'}} | ecr:n=9 | true
NumericLessThan equal | {'NumericLessThan':{'ecr:n':'10'}} | ecr:n=10 | false
NumericLessThan negative | {'NumericLessThan':{'ecr:n':'0'}} | ecr:n=-1 | true
NumericLessThan decimal | {'NumericLessThan':{'ecr:n':'2'}} | ecr:n=1.5 | true
NumericLessThan non-numeric | {'NumericLessThan':{'ecr:n':'10'}} | ecr:n=5x | false
NumericLessThan absent | {'NumericLessThan':{'ecr:n':'10'}} | - | false
NumericLessThanEquals equal | {'NumericLessThanEquals':{'ecr:n':'10'}} | ecr:n=10 | true
NumericLessThanEquals greater | {'NumericLessThanEquals':{'ecr:n':'10'}} | ecr:n=11 | false
NumericGreaterThan greater | {'NumericGreaterThan':{'ecr:n':'10'}} | ecr:n=11 | true
NumericGreaterThan equal | {'NumericGreaterThan':{'ecr:n':'10'}} | ecr:n=10 | false
NumericGreaterThan non-numeric | {'NumericGreaterThan':{'ecr:n':'10'}} | ecr:n=eleven | false
NumericGreaterThanEquals equal | {'NumericGreaterThanEquals':{'ecr:n':'10'}} | ecr:n=10 | true
NumericGreaterThanEquals less | {'NumericGreaterThanEquals':{'ecr:n':'10'}} | ecr:n=9 | false
# Dates: ISO 8601 or epoch seconds, on either side.
DateEquals iso vs epoch | {'DateEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=1704067200 | true
DateEquals epoch vs iso | {'DateEquals':{'aws:EpochTime':'1704067200'}} | aws:EpochTime=2024-01-01T00:00:00Z | true
DateEquals offset | {'DateEquals':{'aws:CurrentTime':'2024-01-01T02:00:00+02:00'}} | aws:CurrentTime=2024-01-01T00:00:00Z | true
DateEquals date only | {'DateEquals':{'aws:CurrentTime':'2024-01-01'}} | aws:CurrentTime=2024-01-01T00:00:00Z | true
DateEquals other | {'DateEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-01T00:00:01Z | false
DateEquals non-date | {'DateEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=now | false
DateEquals absent | {'DateEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | - | false
DateNotEquals other | {'DateNotEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-02T00:00:00Z | true
DateNotEquals same other format | {'DateNotEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=1704067200 | false
DateNotEquals non-date | {'DateNotEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=now | false
DateNotEquals absent | {'DateNotEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | - | true
DateLessThan before | {'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2023-12-31T23:59:59Z | true
DateLessThan at | {'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-01T00:00:00Z | false
DateLessThan after | {'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-01T00:00:01Z | false
DateLessThan fraction | {'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2023-12-31T23:59:59.999Z | true
DateLessThan epoch policy | {'DateLessThan':{'aws:CurrentTime':'1704067200'}} | aws:CurrentTime=2023-06-01T00:00:00Z | true
DateLessThan absent | {'DateLessThan':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | - | false
DateLessThanEquals at | {'DateLessThanEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-01T00:00:00Z | true
DateLessThanEquals after | {'DateLessThanEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-01T00:00:01Z | false
DateGreaterThan after | {'DateGreaterThan':{'aws:TokenIssueTime':'2024-01-01T00:00:00Z'}} | aws:TokenIssueTime=2024-01-01T00:00:01Z | true
DateGreaterThan at | {'DateGreaterThan':{'aws:TokenIssueTime':'2024-01-01T00:00:00Z'}} | aws:TokenIssueTime=2024-01-01T00:00:00Z | false
DateGreaterThan non-date | {'DateGreaterThan':{'aws:TokenIssueTime':'2024-01-01T00:00:00Z'}} | aws:TokenIssueTime=later | false
DateGreaterThanEquals at | {'DateGreaterThanEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2024-01-01T00:00:00Z | true
DateGreaterThanEquals before | {'DateGreaterThanEquals':{'aws:CurrentTime':'2024-01-01T00:00:00Z'}} | aws:CurrentTime=2023-01-01T00:00:00Z | false
# Bool.
Bool true | {'Bool':{'aws:SecureTransport':'true'}} | aws:SecureTransport=true | true
Bool false value | {'Bool':{'aws:SecureTransport':'true'}} | aws:SecureTransport=false | false
Bool case | {'Bool':{'aws:SecureTransport':'true'}} | aws:SecureTransport=TRUE | true
Bool JSON bool | {'Bool':{'aws:SecureTransport':true}} | aws:SecureTransport=true | true
Bool policy false | {'Bool':{'aws:MultiFactorAuthPresent':'false'}} | aws:MultiFactorAuthPresent=false | true
Bool not a bool | {'Bool':{'aws:SecureTransport':'true'}} | aws:SecureTransport=yes | false
Bool absent | {'Bool':{'aws:SecureTransport':'true'}} | - | false
Bool absent false too | {'Bool':{'aws:MultiFactorAuthPresent':'false'}} | - | false
# BinaryEquals compares the base64 text.
BinaryEquals same | {'BinaryEquals':{'ecr:blob':'QmluYXJ5'}} | ecr:blob=QmluYXJ5 | true
BinaryEquals other | {'BinaryEquals':{'ecr:blob':'QmluYXJ5'}} | ecr:blob=QmluYXJ6 | false
# IP addresses: CIDR blocks or single addresses, IPv4 and IPv6.
IpAddress v4 inside | {'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=10.1.2.3 | true
IpAddress v4 outside | {'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=11.0.0.1 | false
IpAddress v4 /32 | {'IpAddress':{'aws:SourceIp':'203.0.113.5/32'}} | aws:SourceIp=203.0.113.5 | true
IpAddress v4 single address | {'IpAddress':{'aws:SourceIp':'203.0.113.5'}} | aws:SourceIp=203.0.113.5 | true
IpAddress v4 single address other | {'IpAddress':{'aws:SourceIp':'203.0.113.5'}} | aws:SourceIp=203.0.113.6 | false
IpAddress v4 host bits in block | {'IpAddress':{'aws:SourceIp':'192.0.2.77/24'}} | aws:SourceIp=192.0.2.1 | true
IpAddress list OR | {'IpAddress':{'aws:SourceIp':['10.0.0.0/8','192.168.0.0/16']}} | aws:SourceIp=192.168.4.4 | true
IpAddress v6 inside | {'IpAddress':{'aws:SourceIp':'2001:db8::/32'}} | aws:SourceIp=2001:db8:1::7 | true
IpAddress v6 outside | {'IpAddress':{'aws:SourceIp':'2001:db8::/32'}} | aws:SourceIp=2001:db9::1 | false
IpAddress v6 loopback single | {'IpAddress':{'aws:SourceIp':'::1'}} | aws:SourceIp=::1 | true
IpAddress v4 block v6 address | {'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=2001:db8::1 | false
IpAddress v4-mapped v6 address | {'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=::ffff:10.0.0.1 | true
IpAddress not an address | {'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=localhost | false
IpAddress absent | {'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | - | false
IpAddress all v4 | {'IpAddress':{'aws:SourceIp':'0.0.0.0/0'}} | aws:SourceIp=198.51.100.1 | true
NotIpAddress inside | {'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=10.1.1.1 | false
NotIpAddress outside | {'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=192.0.2.1 | true
NotIpAddress v6 outside | {'NotIpAddress':{'aws:SourceIp':'2001:db8::/32'}} | aws:SourceIp=2001:db9::1 | true
NotIpAddress v6 inside | {'NotIpAddress':{'aws:SourceIp':'2001:db8::/32'}} | aws:SourceIp=2001:db8::1 | false
NotIpAddress NOR | {'NotIpAddress':{'aws:SourceIp':['10.0.0.0/8','192.0.2.0/24']}} | aws:SourceIp=192.0.2.1 | false
NotIpAddress not an address | {'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=localhost | false
NotIpAddress absent | {'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}} | - | true
# ARNs: part by part, wildcards within a part.
ArnLike role wildcard | {'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/*'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Builder | true
ArnLike role wildcard user | {'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/*'}} | aws:PrincipalArn=arn:aws:iam::{A}:user/alice | false
ArnLike any account | {'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::*:role/Builder'}} | aws:PrincipalArn=arn:aws:iam::{B}:role/Builder | true
ArnLike question | {'ArnLike':{'aws:SourceArn':'arn:aws:ecr:us-east-?:{A}:repository/app'}} | aws:SourceArn=arn:aws:ecr:us-east-1:{A}:repository/app | true
ArnLike star stays in its part | {'ArnLike':{'aws:SourceArn':'arn:aws:ecr:*:repository/app'}} | aws:SourceArn=arn:aws:ecr:us-east-1:{A}:repository/app | false
ArnLike not an ARN | {'ArnLike':{'aws:SourceArn':'arn:aws:ecr:*:*:*'}} | aws:SourceArn=app | false
ArnLike absent | {'ArnLike':{'aws:SourceArn':'arn:aws:ecr:*:*:*'}} | - | false
ArnLike case-sensitive | {'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/builder'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Builder | false
ArnEquals exact | {'ArnEquals':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/Builder'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Builder | true
ArnEquals other | {'ArnEquals':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/Builder'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Other | false
ArnEquals wildcard like ArnLike | {'ArnEquals':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/*'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Builder | true
ArnNotEquals other | {'ArnNotEquals':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/Builder'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Other | true
ArnNotEquals same | {'ArnNotEquals':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/Builder'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Builder | false
ArnNotEquals absent | {'ArnNotEquals':{'aws:PrincipalArn':'arn:aws:iam::{A}:role/Builder'}} | - | true
ArnNotLike match | {'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::*:role/*'}} | aws:PrincipalArn=arn:aws:iam::{A}:role/Builder | false
ArnNotLike mismatch | {'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::*:role/*'}} | aws:PrincipalArn=arn:aws:iam::{A}:user/alice | true
ArnNotLike not an ARN | {'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::*:role/*'}} | aws:PrincipalArn=alice | false
ArnNotLike absent | {'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::*:role/*'}} | - | true
# Null tests presence: an empty list of values counts as absent.
Null true absent | {'Null':{'aws:TokenIssueTime':'true'}} | - | true
Null true present | {'Null':{'aws:TokenIssueTime':'true'}} | aws:TokenIssueTime=2024-01-01T00:00:00Z | false
Null false present | {'Null':{'aws:TokenIssueTime':'false'}} | aws:TokenIssueTime=2024-01-01T00:00:00Z | true
Null false absent | {'Null':{'aws:TokenIssueTime':'false'}} | - | false
Null true empty list | {'Null':{'aws:TagKeys':'true'}} | aws:TagKeys= | true
Null JSON bool | {'Null':{'aws:TagKeys':true}} | - | true
Null two keys | {'Null':{'aws:TagKeys':'false','aws:SourceIp':'true'}} | aws:TagKeys=a | true
# IfExists: absent → true; present → the operator.
StringEqualsIfExists absent | {'StringEqualsIfExists':{'ecr:ResourceTag/team':'a'}} | - | true
StringEqualsIfExists present match | {'StringEqualsIfExists':{'ecr:ResourceTag/team':'a'}} | ecr:ResourceTag/team=a | true
StringEqualsIfExists present mismatch | {'StringEqualsIfExists':{'ecr:ResourceTag/team':'a'}} | ecr:ResourceTag/team=b | false
StringNotEqualsIfExists absent | {'StringNotEqualsIfExists':{'ecr:ResourceTag/team':'a'}} | - | true
StringNotEqualsIfExists present same | {'StringNotEqualsIfExists':{'ecr:ResourceTag/team':'a'}} | ecr:ResourceTag/team=a | false
StringEqualsIgnoreCaseIfExists present | {'StringEqualsIgnoreCaseIfExists':{'ecr:x':'A'}} | ecr:x=a | true
StringNotEqualsIgnoreCaseIfExists present | {'StringNotEqualsIgnoreCaseIfExists':{'ecr:x':'A'}} | ecr:x=a | false
StringLikeIfExists absent | {'StringLikeIfExists':{'ecr:x':'a*'}} | - | true
StringLikeIfExists present mismatch | {'StringLikeIfExists':{'ecr:x':'a*'}} | ecr:x=b | false
StringNotLikeIfExists present match | {'StringNotLikeIfExists':{'ecr:x':'a*'}} | ecr:x=ab | false
NumericLessThanIfExists absent | {'NumericLessThanIfExists':{'ecr:n':'5'}} | - | true
NumericLessThanIfExists present | {'NumericLessThanIfExists':{'ecr:n':'5'}} | ecr:n=4 | true
NumericLessThanIfExists present non-numeric | {'NumericLessThanIfExists':{'ecr:n':'5'}} | ecr:n=four | false
NumericEqualsIfExists present other | {'NumericEqualsIfExists':{'ecr:n':'5'}} | ecr:n=6 | false
NumericNotEqualsIfExists present | {'NumericNotEqualsIfExists':{'ecr:n':'5'}} | ecr:n=6 | true
NumericLessThanEqualsIfExists present | {'NumericLessThanEqualsIfExists':{'ecr:n':'5'}} | ecr:n=5 | true
NumericGreaterThanIfExists present | {'NumericGreaterThanIfExists':{'ecr:n':'5'}} | ecr:n=5 | false
NumericGreaterThanEqualsIfExists absent | {'NumericGreaterThanEqualsIfExists':{'ecr:n':'5'}} | - | true
DateGreaterThanIfExists absent | {'DateGreaterThanIfExists':{'aws:TokenIssueTime':'2024-01-01T00:00:00Z'}} | - | true
DateGreaterThanIfExists present before | {'DateGreaterThanIfExists':{'aws:TokenIssueTime':'2024-01-01T00:00:00Z'}} | aws:TokenIssueTime=2023-01-01T00:00:00Z | false
DateEqualsIfExists present | {'DateEqualsIfExists':{'aws:CurrentTime':'2024-01-01'}} | aws:CurrentTime=1704067200 | true
DateNotEqualsIfExists present same | {'DateNotEqualsIfExists':{'aws:CurrentTime':'2024-01-01'}} | aws:CurrentTime=1704067200 | false
DateLessThanIfExists present | {'DateLessThanIfExists':{'aws:CurrentTime':'2024-01-01'}} | aws:CurrentTime=2023-01-01 | true
DateLessThanEqualsIfExists present after | {'DateLessThanEqualsIfExists':{'aws:CurrentTime':'2024-01-01'}} | aws:CurrentTime=2025-01-01 | false
DateGreaterThanEqualsIfExists present | {'DateGreaterThanEqualsIfExists':{'aws:CurrentTime':'2024-01-01'}} | aws:CurrentTime=2024-01-01 | true
BoolIfExists absent | {'BoolIfExists':{'aws:MultiFactorAuthPresent':'true'}} | - | true
BoolIfExists present false | {'BoolIfExists':{'aws:MultiFactorAuthPresent':'true'}} | aws:MultiFactorAuthPresent=false | false
BinaryEqualsIfExists absent | {'BinaryEqualsIfExists':{'ecr:blob':'QQ=='}} | - | true
IpAddressIfExists absent | {'IpAddressIfExists':{'aws:SourceIp':'10.0.0.0/8'}} | - | true
IpAddressIfExists present outside | {'IpAddressIfExists':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=192.0.2.1 | false
NotIpAddressIfExists present inside | {'NotIpAddressIfExists':{'aws:SourceIp':'10.0.0.0/8'}} | aws:SourceIp=10.0.0.1 | false
ArnLikeIfExists absent | {'ArnLikeIfExists':{'aws:SourceArn':'arn:aws:ecr:*:*:*'}} | - | true
ArnLikeIfExists present other service | {'ArnLikeIfExists':{'aws:SourceArn':'arn:aws:ecr:*:*:*'}} | aws:SourceArn=arn:aws:s3:::bucket | false
ArnEqualsIfExists present | {'ArnEqualsIfExists':{'aws:SourceArn':'arn:aws:s3:::bucket'}} | aws:SourceArn=arn:aws:s3:::bucket | true
ArnNotEqualsIfExists present same | {'ArnNotEqualsIfExists':{'aws:SourceArn':'arn:aws:s3:::bucket'}} | aws:SourceArn=arn:aws:s3:::bucket | false
ArnNotLikeIfExists absent | {'ArnNotLikeIfExists':{'aws:SourceArn':'arn:aws:s3:::*'}} | - | true
# ForAnyValue: some request value satisfies the operator; absent or empty → false.
ForAnyValue one of many | {'ForAnyValue:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=owner,env | true
ForAnyValue none of many | {'ForAnyValue:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=owner,cost | false
ForAnyValue single value | {'ForAnyValue:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=team | true
ForAnyValue single value other | {'ForAnyValue:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=owner | false
ForAnyValue absent | {'ForAnyValue:StringEquals':{'aws:TagKeys':['team','env']}} | - | false
ForAnyValue empty | {'ForAnyValue:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys= | false
ForAnyValue IfExists absent still false | {'ForAnyValue:StringEqualsIfExists':{'aws:TagKeys':'team'}} | - | false
ForAnyValue IfExists present | {'ForAnyValue:StringEqualsIfExists':{'aws:TagKeys':'team'}} | aws:TagKeys=team | true
ForAnyValue StringLike | {'ForAnyValue:StringLike':{'aws:TagKeys':'env*'}} | aws:TagKeys=owner,env-x | true
ForAnyValue StringNotEquals some other | {'ForAnyValue:StringNotEquals':{'aws:TagKeys':'team'}} | aws:TagKeys=team,env | true
ForAnyValue StringNotEquals only listed | {'ForAnyValue:StringNotEquals':{'aws:TagKeys':'team'}} | aws:TagKeys=team | false
ForAnyValue StringNotEquals absent | {'ForAnyValue:StringNotEquals':{'aws:TagKeys':'team'}} | - | false
ForAnyValue StringEqualsIgnoreCase | {'ForAnyValue:StringEqualsIgnoreCase':{'aws:TagKeys':'TEAM'}} | aws:TagKeys=x,team | true
ForAnyValue NumericGreaterThan | {'ForAnyValue:NumericGreaterThan':{'ecr:sizes':'100'}} | ecr:sizes=5,500 | true
ForAnyValue NumericGreaterThan none | {'ForAnyValue:NumericGreaterThan':{'ecr:sizes':'100'}} | ecr:sizes=5,50 | false
ForAnyValue IpAddress | {'ForAnyValue:IpAddress':{'ecr:ips':'10.0.0.0/8'}} | ecr:ips=192.0.2.1,10.0.0.1 | true
ForAnyValue ArnLike | {'ForAnyValue:ArnLike':{'ecr:arns':'arn:aws:iam::*:role/*'}} | ecr:arns=arn:aws:iam::{A}:user/u,arn:aws:iam::{A}:role/r | true
ForAnyValue Bool | {'ForAnyValue:Bool':{'ecr:flags':'true'}} | ecr:flags=false,true | true
ForAnyValue DateLessThan | {'ForAnyValue:DateLessThan':{'ecr:dates':'2024-01-01'}} | ecr:dates=2025-01-01,2023-01-01 | true
# ForAllValues: every request value satisfies the operator; absent or empty → true.
ForAllValues all listed | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=team,env | true
ForAllValues subset | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=env | true
ForAllValues one unlisted | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys=team,owner | false
ForAllValues absent | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}} | - | true
ForAllValues empty | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']}} | aws:TagKeys= | true
ForAllValues absent guarded by Null | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']},'Null':{'aws:TagKeys':'false'}} | - | false
ForAllValues present guarded by Null | {'ForAllValues:StringEquals':{'aws:TagKeys':['team','env']},'Null':{'aws:TagKeys':'false'}} | aws:TagKeys=team | true
ForAllValues StringLike | {'ForAllValues:StringLike':{'aws:TagKeys':'env*'}} | aws:TagKeys=env1,env2 | true
ForAllValues StringLike one other | {'ForAllValues:StringLike':{'aws:TagKeys':'env*'}} | aws:TagKeys=env1,x | false
ForAllValues StringNotEquals none forbidden | {'ForAllValues:StringNotEquals':{'aws:TagKeys':'secret'}} | aws:TagKeys=a,b | true
ForAllValues StringNotEquals one forbidden | {'ForAllValues:StringNotEquals':{'aws:TagKeys':'secret'}} | aws:TagKeys=a,secret | false
ForAllValues StringNotLike | {'ForAllValues:StringNotLike':{'aws:TagKeys':'aws:*'}} | aws:TagKeys=a,aws:x | false
ForAllValues NumericLessThan | {'ForAllValues:NumericLessThan':{'ecr:sizes':'10'}} | ecr:sizes=1,2 | true
ForAllValues NumericLessThan one big | {'ForAllValues:NumericLessThan':{'ecr:sizes':'10'}} | ecr:sizes=1,20 | false
ForAllValues NumericLessThan one non-numeric | {'ForAllValues:NumericLessThan':{'ecr:sizes':'10'}} | ecr:sizes=1,x | false
ForAllValues IpAddress | {'ForAllValues:IpAddress':{'ecr:ips':['10.0.0.0/8','2001:db8::/32']}} | ecr:ips=10.0.0.1,2001:db8::1 | true
ForAllValues NotIpAddress one inside | {'ForAllValues:NotIpAddress':{'ecr:ips':'10.0.0.0/8'}} | ecr:ips=192.0.2.1,10.0.0.1 | false
ForAllValues IfExists absent | {'ForAllValues:StringEqualsIfExists':{'aws:TagKeys':'team'}} | - | true
ForAllValues IfExists present other | {'ForAllValues:StringEqualsIfExists':{'aws:TagKeys':'team'}} | aws:TagKeys=env | false
ForAllValues ArnNotLike | {'ForAllValues:ArnNotLike':{'ecr:arns':'arn:aws:iam::*:root'}} | ecr:arns=arn:aws:iam::{A}:user/u | true
ForAllValues DateGreaterThan | {'ForAllValues:DateGreaterThan':{'ecr:dates':'2024-01-01'}} | ecr:dates=2025-01-01,2024-06-01 | true
"#;

/// A non-matching deny placement must leave the allow-all standing.
const ALLOW_ALL: &str = "{'Effect':'Allow','Action':'*','Resource':'*'}";

#[test]
fn every_operator() {
    let rows = rows(CASES, 4);
    let alice = principal("user:A:alice");
    let repo = format!("arn:aws:ecr:us-east-1:{}:repository/app", crate::support::A);
    let mut failures = Vec::new();
    for (line, c) in &rows {
        let (name, condition, ctx, want) = (c[0], c[1], context(c[2]), c[3] == "true");
        assert!(matches!(c[3], "true" | "false"), "line {line}: {}", c[3]);
        let allow = Policies::parse(&format!(
            "id: {{'Effect':'Allow','Action':'ecr:*','Resource':'*','Condition':{condition}}}"
        ));
        let allowed = allow.decide(&alice, "ecr:PutImage", &repo, crate::support::A, &ctx) == Decision::Allow;
        let deny = Policies::parse(&format!(
            "id: {ALLOW_ALL} ;; id: {{'Effect':'Deny','Action':'ecr:*','Resource':'*','Condition':{condition}}}"
        ));
        let denied = deny.decide(&alice, "ecr:PutImage", &repo, crate::support::A, &ctx) != Decision::Allow;
        if allowed != want || denied != want {
            failures.push(format!(
                "  line {line} {name:?}: in Allow {allowed}, in Deny {denied}, want {want}"
            ));
        }
    }
    report("condition operators", rows.len(), failures);
}

/// Every operator name (with `IfExists` and both set qualifiers) appears in the table.
#[test]
fn the_table_covers_every_operator() {
    let text = CASES;
    for base in stowage_policy::BaseOperator::ALL {
        let name = base.name();
        assert!(text.contains(&format!("'{name}'")), "{name} untested");
        if name != "Null" {
            assert!(text.contains(&format!("'{name}IfExists'")), "{name}IfExists untested");
        }
    }
    assert!(text.contains("'ForAnyValue:") && text.contains("'ForAllValues:"));
}

/// The number of condition cases.
pub fn case_count() -> usize {
    rows(CASES, 4).len()
}
