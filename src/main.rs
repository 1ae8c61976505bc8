//! The `arbordb` binary: the PostgreSQL-wire server by default, and room for
//! maintenance subcommands beside it.
//!
//! ```text
//!  arbordb [--data-dir DIR] [--listen HOST:PORT] [--buffer-pool SIZE]
//!          [--auth trust|scram|md5] [--superuser NAME] [--password PW]
//!          [--tls-cert FILE --tls-key FILE]
//!  arbordb serve [same flags]
//!  arbordb check --data-dir DIR
//! ```
//!
//! The superuser created on a database's first start is named by
//! `--superuser`, else `ARBORDB_USER`, else the operating-system user running
//! the server (as initdb does, so `psql -h 127.0.0.1` finds it), else
//! `postgres`; without `--superuser` or `ARBORDB_USER` a `postgres`
//! superuser is created beside it too; its password comes from `--password`, else `ARBORDB_PASSWORD`,
//! else it has none (it can then log in only where trust applies).
//!
//! Exit status: 0 after a clean shutdown (SIGINT / SIGTERM), 1 when the
//! server cannot start (bad flag value, data directory locked by another
//! process, address in use) — with the reason on stderr.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use arbordb::server::{AuthMethod, InitialSuperuser, SHUTDOWN_GRACE_MS, ServerConfig};
use arbordb::{Database, Options};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Bytes per buffer-pool frame (one page).
const PAGE_BYTES: u64 = 8192;
/// The smallest pool accepted, as PostgreSQL's shared_buffers minimum: 16 pages.
const MIN_POOL_FRAMES: u64 = 16;

/// arbordb: a relational SQL database that speaks the PostgreSQL protocol.
#[derive(Debug, Parser)]
#[command(
    name = "arbordb",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Verify a stopped database: checksums of every page, key order within
    /// and across pages, sibling links, separator bounds, overflow chains,
    /// and that every page is in exactly one tree or on the free list.
    /// Exits 0 when the database is sound, 1 when it found faults, 2 when it
    /// could not open the database (e.g. a server is running on it).
    Check(CheckArgs),
}

#[derive(Debug, Clone, Args)]
struct CheckArgs {
    /// Directory holding the database files.
    #[arg(long, value_name = "DIR", default_value = "./arbordb-data")]
    data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Directory holding the database files; created if missing. Only one
    /// arbordb process may use it at a time (it holds DIR/arbordb.lock).
    #[arg(long, value_name = "DIR", default_value = "./arbordb-data")]
    data_dir: PathBuf,

    /// Address to listen on for PostgreSQL clients. Port 0 picks a free port
    /// (the log line "listening on" names it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5432")]
    listen: SocketAddr,

    /// How clients authenticate: trust (no password), scram (SCRAM-SHA-256)
    /// or md5 (md5 for roles whose password is an md5 hash, SCRAM for the
    /// rest). Without this flag, loopback clients are trusted and all others
    /// must use SCRAM-SHA-256.
    #[arg(long, value_name = "METHOD")]
    auth: Option<AuthMethod>,

    /// Allow `--auth trust` on a listen address that is not loopback: anyone
    /// who can reach the port can then connect as any role.
    #[arg(long)]
    allow_remote_trust: bool,

    /// Name of the superuser created on the database's first start (default:
    /// $ARBORDB_USER, else the operating-system user, else postgres).
    #[arg(long, value_name = "NAME")]
    superuser: Option<String>,

    /// PEM certificate chain for TLS (with --tls-key); without both, an
    /// SSLRequest is answered 'N' and clients continue unencrypted.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Password of that superuser (default: $ARBORDB_PASSWORD, else none).
    /// Prefer the environment variable: other users can see command lines.
    #[arg(long, value_name = "PASSWORD")]
    password: Option<String>,

    /// Buffer pool size: bytes, or a number with a unit kB, MB, GB, TB (as
    /// PostgreSQL reads them: 1 kB = 1024 bytes) or KiB, MiB, GiB, TiB; e.g.
    /// 8192kB, 256MiB, 1GiB. Rounded down to whole 8 KiB pages; at least 128 kB.
    #[arg(long, value_name = "SIZE", default_value = "128MiB", value_parser = parse_pool_frames)]
    buffer_pool: usize,

    /// Clients served at once; one more is refused with "sorry, too many
    /// clients already" (SQLSTATE 53300).
    #[arg(long, value_name = "N", default_value_t = arbordb::server::MAX_CONNECTIONS_DEFAULT,
          value_parser = parse_max_connections)]
    max_connections: usize,
}

fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid connection limit \"{s}\": expected a whole number >= 1"
        )),
    }
}

/// Parses a buffer-pool size into a number of 8 KiB frames.
fn parse_pool_frames(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid size \"{s}\": expected a number with an optional unit"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" | "KiB" | "k" | "K" => 1 << 10,
        "MB" | "MiB" | "M" => 1 << 20,
        "GB" | "GiB" | "G" => 1 << 30,
        "TB" | "TiB" | "T" => 1 << 40,
        other => {
            return Err(format!(
                "invalid unit \"{other}\" in \"{s}\": use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ));
        }
    };
    let bytes = number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size \"{s}\" is too large"))?;
    let frames = bytes / PAGE_BYTES;
    if frames < MIN_POOL_FRAMES {
        return Err(format!(
            "buffer pool \"{s}\" is too small: at least {} kB ({MIN_POOL_FRAMES} pages of 8 kB)",
            MIN_POOL_FRAMES * PAGE_BYTES / 1024
        ));
    }
    usize::try_from(frames).map_err(|_| format!("size \"{s}\" is too large"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Some(Command::Serve(args)) => run_server(args),
        Some(Command::Check(args)) => run_check(args),
        None => run_server(cli.serve),
    }
}

fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // A panic anywhere (a connection task, a statement) goes to the log too.
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("panic: {info}");
    }));
}

fn run_check(args: CheckArgs) -> ExitCode {
    if !args.data_dir.is_dir() {
        eprintln!(
            "arbordb check: data directory \"{}\" does not exist",
            args.data_dir.display()
        );
        return ExitCode::from(2);
    }
    let db = match Database::open(&args.data_dir) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("arbordb check: {}", e.message);
            return ExitCode::from(2);
        }
    };
    match db.check() {
        Ok(report) => {
            print!("{report}");
            if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            println!("fault: {} (SQLSTATE {})", e.message, e.sqlstate);
            ExitCode::from(1)
        }
    }
}

/// The operating-system user this process runs as: the `/etc/passwd` entry
/// for the owner of `/proc/self` (the effective uid), else `$USER`/`$LOGNAME`.
fn os_user_name() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(me), Ok(passwd)) = (
            std::fs::metadata("/proc/self"),
            std::fs::read_to_string("/etc/passwd"),
        ) {
            let uid = me.uid().to_string();
            for line in passwd.lines() {
                let mut fields = line.split(':');
                if let (Some(name), Some(_), Some(id)) =
                    (fields.next(), fields.next(), fields.next())
                    && id == uid
                    && !name.is_empty()
                {
                    return Some(name.to_owned());
                }
            }
        }
    }
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
}

/// The superuser to create on first start, from flags, environment and the
/// operating-system user, in that order.
fn initial_superuser(args: &ServeArgs) -> InitialSuperuser {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let default = arbordb::server::DEFAULT_SUPERUSER;
    let named = args.superuser.clone().or_else(|| env("ARBORDB_USER"));
    // Without a name, both the OS user (plain `psql`) and `postgres`
    // (`psql -U postgres`, what drivers and pgbench scripts assume) exist.
    let also = match &named {
        None => vec![default.to_owned()],
        Some(_) => Vec::new(),
    };
    let name = named
        .or_else(os_user_name)
        .unwrap_or_else(|| default.to_owned());
    let password = args.password.clone().or_else(|| env("ARBORDB_PASSWORD"));
    InitialSuperuser {
        name,
        password,
        also,
    }
}

/// The authentication method, or why the flags are refused.
fn auth_method(args: &ServeArgs) -> Result<AuthMethod, String> {
    let method = args.auth.unwrap_or_default();
    if method == AuthMethod::Trust
        && !arbordb::server::is_loopback(args.listen.ip())
        && !args.allow_remote_trust
    {
        return Err(format!(
            "--auth trust on {}, which is not a loopback address, lets anyone who reaches \
             the port connect as any role; add --allow-remote-trust if that is what you want",
            args.listen
        ));
    }
    Ok(method)
}

fn run_server(args: ServeArgs) -> ExitCode {
    let auth = match auth_method(&args) {
        Ok(m) => m,
        Err(message) => {
            eprintln!("arbordb: {message}");
            return ExitCode::FAILURE;
        }
    };
    let superuser = initial_superuser(&args);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match arbordb::server::Tls::from_pem_files(cert, key) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("arbordb: {}", e.message);
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    #[allow(clippy::needless_update)] // fields added later keep their defaults
    let options = Options {
        buffer_pool_frames: args.buffer_pool,
        ..Options::default()
    };
    let db = match Database::open_with(&args.data_dir, options) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("arbordb: could not open database: {}", e.message);
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("arbordb-server")
        // It only accepts; each client gets a thread of its own
        // (server::spawn_connection), sized for deep statements.
        .thread_stack_size(arbordb::sql::stack_depth::STATEMENT_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("arbordb: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async {
        let shutdown =
            shutdown_signal().map_err(|e| format!("could not install signal handlers: {e}"))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("could not listen on {}: {e}", args.listen))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("could not read the listening address: {e}"))?;
        tracing::info!(
            data_dir = %args.data_dir.display(),
            buffer_pool_frames = args.buffer_pool,
            "listening on {local}"
        );
        let config = ServerConfig {
            max_connections: args.max_connections,
            auth,
            initial_superuser: Some(superuser),
            tls,
            ..ServerConfig::default()
        };
        arbordb::server::serve_with(db, listener, shutdown, config)
            .await
            .map_err(|e| e.message)
    });
    // Statements cut off by the grace period must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(SHUTDOWN_GRACE_MS));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("arbordb: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed before this
/// returns, so a signal that arrives before the future is first polled
/// (e.g. right after the "listening on" line) is not lost.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = int.recv() => tracing::info!("received SIGINT"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("received interrupt");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(flags: &[&str]) -> ServeArgs {
        let mut argv = vec!["arbordb"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().serve
    }

    #[test]
    fn trust_on_a_remote_address_needs_the_explicit_flag() {
        assert_eq!(
            auth_method(&serve_args(&[])).unwrap(),
            AuthMethod::TrustLoopback
        );
        assert_eq!(
            auth_method(&serve_args(&["--auth", "trust"])).unwrap(),
            AuthMethod::Trust
        );
        let remote = serve_args(&["--auth", "trust", "--listen", "0.0.0.0:5432"]);
        assert!(
            auth_method(&remote)
                .unwrap_err()
                .contains("--allow-remote-trust")
        );
        let allowed = serve_args(&[
            "--auth",
            "trust",
            "--listen",
            "0.0.0.0:5432",
            "--allow-remote-trust",
        ]);
        assert_eq!(auth_method(&allowed).unwrap(), AuthMethod::Trust);
        let scram = serve_args(&["--auth", "scram", "--listen", "0.0.0.0:5432"]);
        assert_eq!(auth_method(&scram).unwrap(), AuthMethod::Scram);
        assert!(Cli::try_parse_from(["arbordb", "--auth", "password"]).is_err());
    }

    #[test]
    fn superuser_flags_win_over_the_environment_defaults() {
        let su = initial_superuser(&serve_args(&["--superuser", "boss", "--password", "pw"]));
        assert_eq!(su.name, "boss");
        assert_eq!(su.password.as_deref(), Some("pw"));
        assert!(su.also.is_empty(), "a named superuser comes alone");
        // Without flags the name is never empty, and `postgres` comes too.
        let unnamed = initial_superuser(&serve_args(&[]));
        assert!(!unnamed.name.is_empty());
        if std::env::var_os("ARBORDB_USER").is_none() {
            assert_eq!(unnamed.also, vec!["postgres".to_owned()]);
        }
    }

    #[test]
    fn pool_sizes_convert_to_frames() {
        assert_eq!(parse_pool_frames("128MiB").unwrap(), 16 * 1024);
        assert_eq!(parse_pool_frames("256MiB").unwrap(), 32 * 1024);
        assert_eq!(parse_pool_frames("1GiB").unwrap(), 128 * 1024);
        assert_eq!(parse_pool_frames("8192kB").unwrap(), 1024);
        assert_eq!(parse_pool_frames("1MB").unwrap(), 128);
        assert_eq!(parse_pool_frames("1048576").unwrap(), 128);
        assert_eq!(parse_pool_frames("131072").unwrap(), 16);
    }

    #[test]
    fn bad_pool_sizes_are_rejected() {
        assert!(parse_pool_frames("").is_err());
        assert!(parse_pool_frames("MiB").is_err());
        assert!(parse_pool_frames("12 parsecs").is_err());
        assert!(parse_pool_frames("64kB").unwrap_err().contains("too small"));
        assert!(parse_pool_frames("99999999999TB").is_err());
    }

    #[test]
    fn cli_defaults_and_subcommand_parse() {
        let cli = Cli::try_parse_from(["arbordb"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.data_dir, PathBuf::from("./arbordb-data"));
        assert_eq!(cli.serve.listen, "127.0.0.1:5432".parse().unwrap());
        assert_eq!(cli.serve.buffer_pool, 16 * 1024);
        assert_eq!(cli.serve.max_connections, 100);
        assert!(Cli::try_parse_from(["arbordb", "--max-connections", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "arbordb",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--buffer-pool",
            "1GiB",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Serve(args)) => {
                assert_eq!(args.listen.port(), 0);
                assert_eq!(args.buffer_pool, 128 * 1024);
            }
            other => panic!("expected the serve subcommand, got {other:?}"),
        }
        assert_eq!(cli.serve.auth, None);
        let cli = Cli::try_parse_from(["arbordb", "check", "--data-dir", "/tmp/x"]).unwrap();
        match cli.command {
            Some(Command::Check(args)) => assert_eq!(args.data_dir, PathBuf::from("/tmp/x")),
            other => panic!("expected the check subcommand, got {other:?}"),
        }
    }
}
