//! The built-in key service (AWS KMS JSON protocol) through the AWS CLI and boto3.
