//! `avx_server`: `avx serve`, one warm process serving a web page for people and a JSON API for programs over an
//! avx index.
//!
//! * [`Server::start`] binds (loopback by default; any other address needs a token) and serves on a Tokio runtime
//!   of its own; [`Server::wait`] blocks until the process is stopped.
//! * Every query goes through `avx_core`, exactly as the command line's do: no query logic lives here.
//! * [`state`]: the open index snapshot (reopened when a concurrent `avx index` commits) and the model.
//! * [`api`]: the routes; [`http`]: Range requests, authentication, files served by id only.
//!
//! The page (HTML, CSS, JS in `assets/`) is embedded with `include_str!`: no build step, no CDN, works offline.

mod api;
mod http;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use avx_embed::Embedder;

pub use state::AppState;

/// Default bind address.
pub const DEFAULT_BIND: &str = "127.0.0.1:7878";
/// Default size limit of an uploaded reference sound.
pub const DEFAULT_UPLOAD_LIMIT: usize = 50 * 1024 * 1024;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    /// Required from every request when set (header `Authorization: Bearer T`, `X-Avx-Token: T`, or the
    /// `avx_token` cookie). [`Server::start`] generates one for a non-loopback bind without one.
    pub token: Option<String>,
    /// Allow cross-origin requests from this origin (no CORS headers at all otherwise).
    pub cors: Option<String>,
    /// Largest accepted upload, in bytes.
    pub upload_limit: usize,
    /// Worker threads of the HTTP runtime.
    pub threads: usize,
    /// Seconds between the windows of an uploaded reference: the index's hop (`None`: the model's default).
    pub hop_s: Option<f64>,
    /// A saved `avx --json recurring` run (JSON Lines) whose motif occurrences the timeline view
    /// (`/api/files/ID/timeline`) cuts at, as `avx timeline --motifs` does. Read when the server starts and on
    /// each timeline request; never named by a request.
    pub motifs: Option<PathBuf>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            bind: DEFAULT_BIND.parse().expect("valid default address"),
            token: None,
            cors: None,
            upload_limit: DEFAULT_UPLOAD_LIMIT,
            threads: 2,
            hop_s: None,
            motifs: None,
        }
    }
}

/// What can stop the server from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source} (is another server using the port? try --bind 127.0.0.1:0)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("--cors {0}: not a valid origin (expected e.g. http://localhost:3000)")]
    Cors(String),
    #[error(transparent)]
    Core(#[from] avx_core::CoreError),
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    token: Option<String>,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Opens the index in `index_dir` with `model` (the index's own model, already loaded: its text tower loads on
    /// the first text query) and starts serving.
    pub fn start(
        index_dir: &std::path::Path,
        model: Embedder,
        mut cfg: ServeConfig,
    ) -> Result<Server, ServeError> {
        if !cfg.bind.ip().is_loopback() && cfg.token.is_none() {
            cfg.token = Some(http::new_token());
        }
        let state = Arc::new(AppState::open(index_dir, model, &cfg)?);
        let router = api::router(state.clone(), &cfg)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.threads.max(1))
            .max_blocking_threads(cfg.threads.max(1) * 2 + 2)
            .thread_name("avx-serve")
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(cfg.bind))
            .map_err(|source| ServeError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: cfg.bind,
            source,
        })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = runtime.spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Server {
            addr,
            state,
            token: cfg.token,
            runtime,
            stop: Some(stop),
            done: Some(done),
        })
    }

    /// The address served (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token requests need, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until Ctrl-C (SIGINT) or SIGTERM.
    pub fn wait(mut self) {
        let stop = self.stop.take();
        self.runtime.block_on(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                let term = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! { _ = ctrl_c => {}, _ = term => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
        });
        if let Some(s) = stop {
            let _ = s.send(());
        }
        if let Some(d) = self.done.take() {
            let _ = self.runtime.block_on(d);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let mut cache = self
            .state
            .loudness
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let _ = cache.save();
    }
}
