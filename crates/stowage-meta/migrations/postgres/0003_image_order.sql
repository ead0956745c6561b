-- Image listings (DescribeImages, ListImages) page in push order.
CREATE INDEX manifests_pushed ON manifests (repository_id, pushed_at, digest);
