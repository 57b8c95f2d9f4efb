//! The `concord serve` benchmark's load generator: open-loop requests at a
//! fixed rate over keep-alive connections (one thread each), every latency
//! recorded, for a static file served from memory by the same server (the
//! reference), `GET /api/v1/items?status=done&limit=100` and the item page.
//!
//! Latencies are measured from when each request was due, not from when a
//! connection got round to sending it, so a stalled server shows in the
//! figures instead of slowing the generator down (no coordinated omission).
//! After the fixed-rate runs, a short closed-loop run per target (every
//! connection sends its next request as soon as the last answered) gives
//! the most the server sustains.
//!
//! Usage: concord-bench-serve http://127.0.0.1:PORT [--rate 500] [--seconds 10]

// Keys as one path segment, exactly as the server links items.
use clap::Parser;
use concord_serve::page::encode_component as encode_key;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The server's base URL, as `concord serve` prints it.
    url: String,
    /// Requests per second of the fixed-rate runs.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Length of each fixed-rate run, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unrecorded fixed-rate warm-up before each run, in seconds.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Keep-alive connections (one thread each).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Length of each closed-loop (maximum throughput) run, in seconds; 0 skips them.
    #[arg(long, default_value_t = 5)]
    max_seconds: u64,
    /// Connections of the closed-loop runs.
    #[arg(long, default_value_t = 16)]
    max_connections: usize,
    /// The status `GET /api/v1/items` filters on.
    #[arg(long, default_value = "done")]
    status: String,
    /// Send `Authorization: Bearer TOKEN` (not needed with `--public-read`).
    #[arg(long, env = "CONCORD_BENCH_TOKEN")]
    token: Option<String>,
}

/// What one run measured.
struct Stats {
    /// Latencies of successful requests, sorted.
    latencies: Vec<Duration>,
    errors: u64,
    /// Wall time from the first request due to the last answer.
    elapsed: Duration,
    bytes: u64,
}

impl Stats {
    fn ok(&self) -> usize {
        self.latencies.len()
    }
    fn throughput(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }
    fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        // Nearest rank.
        let rank = ((q * self.latencies.len() as f64).ceil() as usize).max(1);
        self.latencies[rank.min(self.latencies.len()) - 1]
    }
    fn max(&self) -> Duration {
        self.latencies.last().copied().unwrap_or_default()
    }
    fn mean_bytes(&self) -> u64 {
        self.bytes / (self.ok().max(1) as u64)
    }
}

/// Which paths a target requests: one fixed path, or one per request.
#[derive(Clone)]
struct Target {
    name: String,
    paths: Arc<Vec<String>>,
}

impl Target {
    fn path(&self, i: u64) -> &str {
        &self.paths[(i % self.paths.len() as u64) as usize]
    }
}

/// A keep-alive HTTP/1.1 connection: just enough client for this server.
struct Connection {
    addr: SocketAddr,
    host: String,
    auth: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    fn new(addr: SocketAddr, host: &str, token: Option<&str>) -> Connection {
        Connection {
            addr,
            host: host.to_string(),
            auth: token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n")),
            stream: None,
        }
    }

    /// GET `path`: the status and the body's length, reconnecting once
    /// if the kept-alive connection was closed.
    fn get(&mut self, path: &str, body: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
        let fresh = self.stream.is_none();
        match self.try_get(path, body) {
            Ok(answer) => Ok(answer),
            Err(_) if !fresh => {
                self.stream = None;
                self.try_get(path, body)
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    fn try_get(&mut self, path: &str, body: &mut Vec<u8>) -> std::io::Result<(u16, usize)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.stream = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        let reader = self.stream.as_mut().expect("connected above");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{}Accept: */*\r\n\r\n",
            self.host, self.auth
        );
        reader.get_mut().write_all(request.as_bytes())?;
        let mut line = String::new();
        read_line(reader, &mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            read_line(reader, &mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                return Err(bad(format!("bad header {header:?}")));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        body.clear();
        if chunked {
            loop {
                read_line(reader, &mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    loop {
                        read_line(reader, &mut line)?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..])?;
                read_line(reader, &mut line)?;
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            reader.read_exact(body)?;
        } else {
            reader.read_to_end(body)?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok((status, body.len()))
    }
}

fn read_line(reader: &mut BufReader<TcpStream>, line: &mut String) -> std::io::Result<()> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(())
}

fn bad(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Where to connect: the host and port of an `http://` URL.
fn endpoint(url: &str) -> Result<(SocketAddr, String), Box<dyn std::error::Error>> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let host = rest.split('/').next().unwrap_or(rest).to_string();
    let addr = host
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    Ok((addr, host))
}

/// How requests are paced: at `rate` per second for `duration`, or as
/// fast as the connections go (closed loop) when `rate` is `None`.
#[derive(Clone, Copy)]
struct Pace {
    rate: Option<u64>,
    duration: Duration,
    connections: usize,
}

fn run(addr: SocketAddr, host: &str, token: Option<&str>, target: &Target, pace: Pace) -> Stats {
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let total = pace
        .rate
        .map(|rate| rate * pace.duration.as_millis() as u64 / 1000);
    let start = Instant::now() + Duration::from_millis(50);
    let threads: Vec<_> = (0..pace.connections)
        .map(|_| {
            let (next, stop, target) = (next.clone(), stop.clone(), target.clone());
            let mut connection = Connection::new(addr, host, token);
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let (mut errors, mut bytes) = (0u64, 0u64);
                let mut body = Vec::new();
                let mut last = start;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let due = match (pace.rate, total) {
                        (Some(rate), Some(total)) => {
                            if i >= total {
                                break;
                            }
                            start + Duration::from_nanos(i * 1_000_000_000 / rate)
                        }
                        _ => {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            Instant::now().max(start)
                        }
                    };
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let answer = connection.get(target.path(i), &mut body);
                    last = Instant::now();
                    match answer {
                        Ok((200, n)) => {
                            latencies.push(last - due);
                            bytes += n as u64;
                        }
                        Ok((status, _)) => {
                            errors += 1;
                            if errors <= 3 {
                                eprintln!(
                                    "{} {}: HTTP {status}: {}",
                                    target.name,
                                    target.path(i),
                                    String::from_utf8_lossy(&body[..body.len().min(300)])
                                );
                            }
                        }
                        Err(e) => {
                            errors += 1;
                            if errors <= 3 {
                                eprintln!("{} {}: {e}", target.name, target.path(i));
                            }
                        }
                    }
                }
                (latencies, errors, bytes, last)
            })
        })
        .collect();
    if pace.rate.is_none() {
        std::thread::sleep((start + pace.duration).saturating_duration_since(Instant::now()));
        stop.store(true, Ordering::Relaxed);
    }
    let mut stats = Stats {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
        bytes: 0,
    };
    let mut end = start;
    for thread in threads {
        let (latencies, errors, bytes, last) = thread.join().expect("load thread");
        stats.latencies.extend(latencies);
        stats.errors += errors;
        stats.bytes += bytes;
        end = end.max(last);
    }
    stats.latencies.sort_unstable();
    stats.elapsed = end.saturating_duration_since(start).max(pace.duration);
    stats
}

/// Every item key, paged through the API (also checks the server is up).
fn all_keys(
    addr: SocketAddr,
    host: &str,
    token: Option<&str>,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut connection = Connection::new(addr, host, token);
    let mut body = Vec::new();
    let mut keys = Vec::new();
    let mut path = "/api/v1/items?limit=1000".to_string();
    loop {
        let (status, _) = connection.get(&path, &mut body)?;
        if status != 200 {
            return Err(format!(
                "GET {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        for item in page["items"].as_array().into_iter().flatten() {
            if let Some(key) = item["key"].as_str() {
                keys.push(key.to_string());
            }
        }
        match page["next"].as_str() {
            Some(next) => {
                path = format!("/api/v1/items?limit=1000&after={}", encode_key(next));
            }
            None => return Ok(keys),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let (addr, host) = endpoint(&args.url)?;
    let token = args.token.as_deref();
    let keys = all_keys(addr, &host, token)?;
    if keys.is_empty() {
        return Err("the hub has no items: seed it first".into());
    }
    // Fixed pseudo-random orders, the same in every run.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut shuffled = keys.clone();
    rng.shuffle(&mut shuffled);
    let status = encode_key(&args.status);
    let one = |path: String| Arc::new(vec![path]);
    let targets = vec![
        Target {
            name: "static /static/control-room.css (reference)".into(),
            paths: one("/static/control-room.css".into()),
        },
        Target {
            name: format!("GET /api/v1/items?status={status}&limit=100 (first page)"),
            paths: one(format!("/api/v1/items?status={status}&limit=100")),
        },
        Target {
            name: format!("GET /api/v1/items?status={status}&limit=100&after=KEY (random page)"),
            paths: Arc::new(
                shuffled
                    .iter()
                    .map(|k| {
                        format!(
                            "/api/v1/items?status={status}&limit=100&after={}",
                            encode_key(k)
                        )
                    })
                    .collect(),
            ),
        },
        Target {
            name: "item page /items/KEY (HTML, random item)".into(),
            paths: Arc::new(
                shuffled
                    .iter()
                    .map(|k| format!("/items/{}", encode_key(k)))
                    .collect(),
            ),
        },
    ];
    println!(
        "{} items in the hub; open loop at {} req/s for {} s per target ({} s warm-up), {} connections{}",
        keys.len(),
        args.rate,
        args.seconds,
        args.warmup,
        args.connections,
        if token.is_some() {
            ", with a bearer token"
        } else {
            ", no token"
        }
    );
    let fixed = Pace {
        rate: Some(args.rate),
        duration: Duration::from_secs(args.seconds),
        connections: args.connections,
    };
    let mut results = Vec::new();
    for target in &targets {
        let load = |pace: Pace| run(addr, &host, token, target, pace);
        if args.warmup > 0 {
            load(Pace {
                duration: Duration::from_secs(args.warmup),
                ..fixed
            });
        }
        let stats = load(fixed);
        let max = (args.max_seconds > 0).then(|| {
            load(Pace {
                rate: None,
                duration: Duration::from_secs(args.max_seconds),
                connections: args.max_connections,
            })
        });
        eprintln!(
            "{}: {:.0} req/s, p50 {}, p99 {}, max {}, {} errors{}",
            target.name,
            stats.throughput(),
            ms(stats.quantile(0.50)),
            ms(stats.quantile(0.99)),
            ms(stats.max()),
            stats.errors,
            max.as_ref().map_or(String::new(), |m| format!(
                "; closed loop {:.0} req/s (p99 {})",
                m.throughput(),
                ms(m.quantile(0.99))
            )),
        );
        results.push((target, stats, max));
    }

    let reference_p99 = results[0].1.quantile(0.99).as_secs_f64();
    let reference_max = results[0].2.as_ref().map(Stats::throughput);
    println!();
    println!(
        "| endpoint | achieved at {} req/s | p50 | p99 | max | errors | p99 vs static | bytes | most req/s (closed loop, {} conns) | vs static |",
        args.rate, args.max_connections
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (target, stats, max) in &results {
        let p99 = stats.quantile(0.99);
        println!(
            "| {} | {:.0} req/s ({} ok) | {} | {} | {} | {} | {:.1}x | {} | {} | {} |",
            target.name,
            stats.throughput(),
            stats.ok(),
            ms(stats.quantile(0.50)),
            ms(p99),
            ms(stats.max()),
            stats.errors,
            p99.as_secs_f64() / reference_p99,
            stats.mean_bytes(),
            max.as_ref()
                .map_or("-".into(), |m| format!("{:.0}", m.throughput())),
            match (max, reference_max) {
                (Some(m), Some(r)) => format!("{:.3}x", m.throughput() / r),
                _ => "-".into(),
            },
        );
    }
    println!();
    let mut missed = false;
    for (target, stats, _) in results.iter().skip(1) {
        let p99 = stats.quantile(0.99);
        let met = p99 < Duration::from_millis(20)
            && stats.errors == 0
            && stats.throughput() >= 0.95 * args.rate as f64;
        missed |= !met;
        println!(
            "target p99 < 20 ms at {} req/s: {} for {}",
            args.rate,
            if met { "met" } else { "MISSED" },
            target.name
        );
    }
    if missed {
        println!(
            "(the target is missed when p99 >= 20 ms, any request failed or under 95% of the rate was achieved)"
        );
    }
    Ok(())
}
