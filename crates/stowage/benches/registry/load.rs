//! Closed-loop HTTP load on one URL: `conns` keep-alive connections, each a task
//! sending the next GET as soon as the previous response has been read; to one
//! server, or spread round-robin over several (the nodes of a cluster).
//!
//! The Rust generator is built like wrk: one OS thread per core, each running a
//! single-threaded tokio event loop that owns its share of the connections, so a
//! request never wakes another core; connections use hyper's bare HTTP/1 API (no
//! pool, no locks). If `wrk` is on the PATH the same load is run with it as
//! well, as a cross-check from a C client.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest a single request may take before the run is abandoned.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a load run measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadResult {
    pub req_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Requests completed in the measured window (0 from wrk).
    pub requests: u64,
    /// CPU time (user + system) the server process used in the measured window,
    /// when its pid was given.
    pub server_cpu: Option<Duration>,
}

impl LoadResult {
    /// Server CPU time per request in the measured window.
    pub fn server_cpu_per_request(&self) -> Option<Duration> {
        let cpu = self.server_cpu?;
        (self.requests > 0).then(|| Duration::from_secs_f64(cpu.as_secs_f64() / self.requests as f64))
    }
}

/// One load run's parameters.
#[derive(Clone)]
pub struct Load {
    pub addr: SocketAddr,
    pub path: String,
    pub accept: &'static str,
    /// `Authorization` header to send, if any.
    pub authorization: Option<String>,
    /// Length every response body must have.
    pub body_len: usize,
    /// Status every response must have.
    pub expect_status: StatusCode,
    pub conns: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The server's pid, to sample its CPU time over the measured window.
    pub server_pid: Option<u32>,
}

/// What one connection saw in the measured window.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    bad: u64,
}

impl Tally {
    fn absorb(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.bad += other.bad;
    }
}

impl Load {
    /// Runs the hyper generator (blocking): warm-up, then the measured window.
    pub fn run(&self) -> anyhow::Result<LoadResult> {
        let pids: Vec<u32> = self.server_pid.into_iter().collect();
        self.run_spread(&[self.addr], &pids)
    }

    /// Like [`Load::run`], with the connections spread round-robin over `addrs`
    /// (connection `i` goes to `addrs[i % addrs.len()]`, so each gets an equal
    /// share, ±1), and the server CPU time summed over `pids` (none: not measured).
    /// `self.addr` and `self.server_pid` are ignored.
    pub fn run_spread(&self, addrs: &[SocketAddr], pids: &[u32]) -> anyhow::Result<LoadResult> {
        ensure!(!addrs.is_empty(), "no address to send the load to");
        let this = Arc::new(self.clone());
        let measure_from = Instant::now() + self.warmup;
        let until = measure_from + self.duration;
        let threads = load_threads().min(self.conns);
        // Connection `i` runs on event loop `i % threads`: every loop gets a mix
        // of the addresses.
        let mut per_thread = vec![Vec::new(); threads];
        for i in 0..self.conns {
            per_thread[i % threads].push(addrs[i % addrs.len()]);
        }
        let loops: Vec<_> = per_thread
            .into_iter()
            .map(|targets| {
                let this = Arc::clone(&this);
                std::thread::spawn(move || this.event_loop(targets, measure_from, until))
            })
            .collect();
        let cpu_probes: Vec<_> = pids
            .iter()
            .map(|&pid| std::thread::spawn(move || cpu_over_window(pid, measure_from, until)))
            .collect();
        let mut total = Tally::default();
        for handle in loops {
            total.absorb(handle.join().map_err(|_| anyhow::anyhow!("load thread panicked"))??);
        }
        let window = Instant::now().saturating_duration_since(measure_from);
        ensure!(total.bad == 0, "{} GETs of {} answered wrongly", total.bad, self.path);
        let mut result = summarize(total.latencies_us, window);
        for probe in cpu_probes {
            let cpu = probe.join().map_err(|_| anyhow::anyhow!("CPU probe panicked"))??;
            result.server_cpu = Some(result.server_cpu.unwrap_or_default() + cpu.unwrap_or_default());
        }
        Ok(result)
    }

    /// One thread's event loop driving one connection per entry of `targets`.
    fn event_loop(
        self: Arc<Self>,
        targets: Vec<SocketAddr>,
        measure_from: Instant,
        until: Instant,
    ) -> anyhow::Result<Tally> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let tasks: Vec<_> = targets
                .into_iter()
                .map(|addr| tokio::spawn(Arc::clone(&self).connection(addr, measure_from, until)))
                .collect();
            let mut total = Tally::default();
            for task in tasks {
                total.absorb(task.await.context("load task panicked")??);
            }
            Ok(total)
        })
    }

    /// One keep-alive connection to `addr` sending GETs back to back until `until`.
    async fn connection(
        self: Arc<Self>,
        addr: SocketAddr,
        measure_from: Instant,
        until: Instant,
    ) -> anyhow::Result<Tally> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let host = addr.to_string();
        let mut tally = Tally::default();
        loop {
            let sent = Instant::now();
            if sent >= until {
                return Ok(tally);
            }
            let mut req = Request::get(&self.path)
                .header(header::HOST, &host)
                .header(header::ACCEPT, self.accept);
            if let Some(auth) = &self.authorization {
                req = req.header(header::AUTHORIZATION, auth);
            }
            let req = req.body(Empty::<Bytes>::new())?;
            let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange(&mut sender, req))
                .await
                .with_context(|| format!("a GET of {} got no answer", self.path))??;
            if sent >= measure_from {
                tally.latencies_us.push(sent.elapsed().as_micros() as u32);
                if status != self.expect_status || body.len() != self.body_len {
                    tally.bad += 1;
                }
            }
        }
    }

    /// Runs the same load with `wrk` if it is installed; `None` if not.
    pub fn run_wrk(&self) -> anyhow::Result<Option<LoadResult>> {
        let Some(wrk) = find_on_path("wrk") else {
            return Ok(None);
        };
        let mut cmd = Command::new(wrk);
        if let Some(auth) = &self.authorization {
            cmd.args(["-H", &format!("Authorization: {auth}")]);
        }
        let out = cmd
            .arg(format!("-t{}", load_threads().min(self.conns)))
            .arg(format!("-c{}", self.conns))
            .arg(format!("-d{}s", self.duration.as_secs().max(1)))
            .arg("--latency")
            .args(["--timeout", &format!("{}s", REQUEST_TIMEOUT.as_secs())])
            .args(["-H", &format!("Accept: {}", self.accept)])
            .arg(format!("http://{}{}", self.addr, self.path))
            .output()
            .context("running wrk")?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success(),
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_wrk(&text).map(Some)
    }
}

/// Sends one request on the connection and reads the whole response.
async fn exchange(
    sender: &mut http1::SendRequest<Empty<Bytes>>,
    req: Request<Empty<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

fn summarize(mut latencies_us: Vec<u32>, window: Duration) -> LoadResult {
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let at = |pct: usize| match n {
        0 => Duration::ZERO,
        _ => Duration::from_micros(latencies_us[(n * pct).div_ceil(100).max(1) - 1].into()),
    };
    LoadResult {
        req_per_sec: n as f64 / window.as_secs_f64(),
        p50: at(50),
        p99: at(99),
        requests: n as u64,
        server_cpu: None,
    }
}

/// CPU time `pid` used between `from` and `until` (sleeps until then).
fn cpu_over_window(pid: u32, from: Instant, until: Instant) -> anyhow::Result<Option<Duration>> {
    std::thread::sleep(from.saturating_duration_since(Instant::now()));
    let before = process_cpu(pid)?;
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    let after = process_cpu(pid)?;
    Ok(Some(after.saturating_sub(before)))
}

/// utime + stime of a process (all its threads), from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> { Ok(fields.get(i).context("short stat")?.parse()?) };
    // `rest` starts at field 3 (state), so field N is at index N - 3.
    let total = ticks(14 - 3)? + ticks(15 - 3)?;
    Ok(Duration::from_secs_f64(total as f64 / clock_ticks_per_sec() as f64))
}

/// `getconf CLK_TCK`, 100 if that fails.
fn clock_ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// One event loop per core.
fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Takes `Requests/sec:` and the `99%` latency from `wrk --latency` output;
/// fails if wrk saw non-2xx answers or socket errors.
fn parse_wrk(text: &str) -> anyhow::Result<LoadResult> {
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        bail!("wrk reported errors: {}", line.trim());
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::trim))
            .with_context(|| format!("no `{prefix}` in wrk output:\n{text}"))
    };
    let req_per_sec = field("Requests/sec:")?.parse()?;
    let p50 = parse_wrk_duration(field("50%")?).with_context(|| format!("wrk p50 in:\n{text}"))?;
    let p99 = parse_wrk_duration(field("99%")?).with_context(|| format!("wrk p99 in:\n{text}"))?;
    Ok(LoadResult {
        req_per_sec,
        p50,
        p99,
        ..LoadResult::default()
    })
}

/// `812.00us`, `1.23ms`, `2.01s` → duration.
fn parse_wrk_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(value * scale))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
