//! A PostgreSQL 15 server of a test's own, for what the shared one cannot do:
//! being stopped and started, or serving TLS only.

use std::path::Path;
use std::process::Command as StdCommand;

use crate::clients::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL 15 cluster of its own (so the test can stop it), run as the
/// `postgres` user in a scratch dir; stopped on drop.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        Self::start_with("")
    }

    /// Starts one with extra server options (`-c ssl=on ...`), after `setup`
    /// ran on its data dir (as root; files are handed to `postgres` after).
    pub fn start_with_setup(options: &str, setup: impl FnOnce(&Path)) -> PrivatePostgres {
        let pg = Self::init();
        setup(&pg.dir.path().join("data"));
        let ok = StdCommand::new("chown")
            .args(["-R", "postgres:"])
            .arg(pg.dir.path())
            .status()
            .unwrap();
        assert!(ok.success(), "chown to postgres");
        pg.run_with(options);
        pg
    }

    fn start_with(options: &str) -> PrivatePostgres {
        let pg = Self::init();
        pg.run_with(options);
        pg
    }

    fn init() -> PrivatePostgres {
        let dir = scratch_dir();
        std::fs::create_dir(dir.path().join("sock")).unwrap();
        let ok = StdCommand::new("chown")
            .args(["-R", "postgres:"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(ok.success(), "chown to postgres");
        let pg = PrivatePostgres { port: free_port(), dir };
        let data = pg.dir.path().join("data");
        let out = pg
            .as_postgres(&format!("{PG_BIN}/initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", describe(&out));
        pg
    }

    fn as_postgres(&self, program: &str) -> StdCommand {
        let mut cmd = StdCommand::new("runuser");
        cmd.args(["-u", "postgres", "--", program]).current_dir(self.dir.path());
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        self.as_postgres(&format!("{PG_BIN}/pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(args)
            .output()
            .unwrap()
    }

    /// Starts the server (again), on the same port.
    pub fn run(&self) {
        self.run_with("");
    }

    fn run_with(&self, extra: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off {extra}",
            self.port,
            self.dir.path().join("sock").display()
        );
        let log = self.dir.path().join("postgres.log");
        let out = self.pg_ctl(&["-l", log.to_str().unwrap(), "-o", &options, "-w", "-t", "60", "start"]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            describe(&out),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stops the server at once (`-m immediate`: as if it crashed).
    pub fn stop(&self) {
        let out = self.pg_ctl(&["-m", "immediate", "-w", "-t", "30", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", describe(&out));
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "-w", "-t", "30", "stop"]);
    }
}
