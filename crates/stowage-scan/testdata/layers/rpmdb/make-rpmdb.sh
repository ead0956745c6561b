#!/bin/sh
# Rebuilds ../rpmdb.sqlite: a real rpm sqlite database (rpm >= 4.16) holding
# the packages built from the specs beside this script, plus a gpg-pubkey
# pseudo package. Needs rpm, rpmbuild, gpg and sqlite3 (Debian: apt-get
# install rpm gnupg sqlite3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/db"
mkdir -p "$db"
rpm_() { rpm --define '_db_backend sqlite' --dbpath "$db" "$@"; }
rpm_ --initdb
for spec in "$here"/*.spec; do
    rpmbuild -bb --quiet --define "_topdir $work/build" --define 'dist .el9' \
        --define '_db_backend sqlite' "$spec"
done
rpm_ -i --justdb --nodeps --noscripts --nosignature "$work"/build/RPMS/*/*.rpm
# A gpg-pubkey pseudo package, as `rpm --import` makes for a repository key.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key 'Stowage Test <test@example.invalid>' ed25519 sign never
gpg --batch --armor --export test@example.invalid > "$work/key.asc"
rpm_ --import "$work/key.asc"
rpm_ -qa --qf '%{NAME}\t%{EVR}\t%{ARCH}\t%{SOURCERPM}\n' | sort
# rpm leaves the database in WAL mode (header bytes 18-19 = 2), as images
# have it; keep that. Only the page size is made smaller (4096 -> 1024) to
# keep the file small: every one of rpm's ~50 tables and indexes takes at
# least a page. Headers larger than a page then spill into overflow pages.
sqlite3 "$db/rpmdb.sqlite" 'PRAGMA journal_mode = DELETE; PRAGMA page_size = 1024; VACUUM; PRAGMA journal_mode = WAL;' > /dev/null
test ! -s "$db/rpmdb.sqlite-wal"
cp "$db/rpmdb.sqlite" "$here/../rpmdb.sqlite"
