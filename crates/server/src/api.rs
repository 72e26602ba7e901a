//! The routes: the page, the JSON API and `/audio/ID`. Every query calls `avx_core`, the functions `avx` itself
//! prints; the objects are the command line's JSON Lines objects (`hit`, `group`, `cluster`) with each file's
//! index `id` added.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use avx_core::cluster::{clusters, ClusterOptions};
use avx_core::dupes::{duplicate_groups, DupesOptions};
use avx_core::query::{self, QueryOptions};
use avx_core::tags::comma_list;
use avx_core::CoreError;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::http::{
    file_body, open_indexed, parse_range, playable_type, request_token, same_secret, served_as,
    wav_bytes, RangeRequest, ServeFileError,
};
use crate::state::AppState;
use crate::{ServeConfig, ServeError};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// Most results one query returns.
const MAX_K: usize = 1000;
/// Longest file transcoded to WAV for the browser (longer AIFF/ALAC files are refused, not buffered).
const MAX_TRANSCODE_S: f64 = 20.0 * 60.0;

type Shared = Arc<AppState>;
type Params = Query<HashMap<String, String>>;

/// An error answered as `{"type": "error", "error": message}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> ApiError {
        let status = match &e {
            CoreError::Embed(avx_embed::EmbedError::Unsupported { .. }) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            e if e.is_request_error() => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let status = if matches!(e, CoreError::Invalid(_)) {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError {
            status,
            message: error_text(&e),
        }
    }
}

impl From<ServeFileError> for ApiError {
    fn from(e: ServeFileError) -> ApiError {
        let status = match e {
            ServeFileError::Changed { .. } => StatusCode::NOT_FOUND,
            ServeFileError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"type": "error", "error": self.message}).to_string(),
        )
            .into_response()
    }
}

/// An error and its causes on one line, as `avx` prints them.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

type ApiResult = Result<Response, ApiError>;

fn json_response(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// A JSON array of numbered objects (`group` 1, 2, ...; `cluster` 1, 2, ...).
fn numbered<T>(items: &[T], json: impl Fn(&T, usize) -> Value) -> Response {
    json_response(&Value::Array(
        items
            .iter()
            .enumerate()
            .map(|(i, x)| json(x, i + 1))
            .collect(),
    ))
}

/// Runs CPU-bound work off the async workers; a panic in it is a 500, never a dead server.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "the request failed inside the server (a bug: please report it)".into(),
    })?
}

pub fn router(state: Shared, cfg: &ServeConfig) -> Result<Router, ServeError> {
    let api = Router::new()
        .route("/", get(page))
        .route(
            "/assets/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/info", get(info))
        .route("/api/search", get(search))
        .route("/api/similar", get(similar_by_id).post(similar_by_upload))
        .route("/api/dupes", get(dupes))
        .route("/api/clusters", get(cluster_list))
        .route("/api/map", get(map))
        .route("/api/files/{id}", get(file_info))
        .route("/api/files/{id}/peaks", get(peaks))
        .route("/api/files/{id}/timeline", get(file_timeline))
        .route("/audio/{id}", get(audio))
        .fallback(|| async {
            ApiError::not_found("no such page or endpoint: see README.md, \"avx serve\"")
        })
        .with_state(state);
    let api = match &cfg.token {
        Some(t) => {
            let token = Arc::new(t.clone());
            api.layer(middleware::from_fn(move |req: Request, next: Next| {
                let token = token.clone();
                async move { authorise(&token, req, next).await }
            }))
        }
        None => api,
    };
    Ok(match &cfg.cors {
        Some(origin) => {
            let value =
                HeaderValue::from_str(origin).map_err(|_| ServeError::Cors(origin.clone()))?;
            api.layer(
                tower_http::cors::CorsLayer::new()
                    .allow_origin(value)
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::RANGE]),
            )
        }
        None => api,
    })
}

/// Lets a request through when it carries the token. `/?token=T` (the link `avx serve` prints) sets the cookie the
/// page then sends with every request, and redirects to `/` so the token leaves the address bar.
async fn authorise(token: &str, req: Request, next: Next) -> Response {
    if request_token(req.headers()).is_some_and(|t| same_secret(&t, token)) {
        return next.run(req).await;
    }
    if req.uri().path() == "/" {
        let given = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
        if given.is_some_and(|t| same_secret(t, token)) {
            let cookie = format!("avx_token={token}; HttpOnly; SameSite=Strict; Path=/");
            return (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, cookie),
                    (header::LOCATION, "/".to_string()),
                ],
            )
                .into_response();
        }
    }
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: "this server needs its token: send `Authorization: Bearer TOKEN` (the token `avx serve` printed), \
                  or open the link it printed"
            .into(),
    }
    .into_response()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

fn param_usize(
    p: &HashMap<String, String>,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad(format!(
                "{name}={v}: expected a whole number from 1 to {max}"
            ))),
        },
    }
}

fn param_flag(p: &HashMap<String, String>, name: &str) -> bool {
    p.get(name)
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

/// `in=DIR`: an absolute directory used only as a prefix filter, never opened.
fn param_within(p: &HashMap<String, String>) -> Result<Option<PathBuf>, ApiError> {
    match p.get("in").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => {
            let path = PathBuf::from(v);
            if !path.is_absolute() {
                return Err(ApiError::bad(format!(
                    "in={v}: expected an absolute directory"
                )));
            }
            Ok(Some(path))
        }
    }
}

fn param_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| {
        ApiError::bad(format!(
            "'{raw}' is not a file id: files are named by their index id only"
        ))
    })
}

/// The indexed file with this id, or 404.
fn file_of(index: &avx_index::Index, id: u64) -> Result<&avx_index::FileMeta, ApiError> {
    index
        .file_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("no indexed file has id {id}")))
}

fn hits_json(hits: &[avx_core::Hit]) -> Value {
    Value::Array(hits.iter().map(|h| h.json(true)).collect())
}

async fn info(State(st): State<Shared>) -> ApiResult {
    let snap = st.snapshot();
    let stats = snap.index.stats();
    let s = snap.index.settings();
    Ok(json_response(&json!({
        "type": "info",
        "version": env!("CARGO_PKG_VERSION"),
        "index": avx_core::path_json(st.dir()),
        "model": st.model_name(),
        "dim": s.dim,
        "text": st.has_text(),
        "text_variant": st.text_variant,
        "files": stats.files - stats.failed,
        "failed": stats.failed,
        "windows": stats.live_rows[1],
        "commits": stats.commits,
        "upload_limit": st.upload_limit,
    })))
}

fn query_options<'a>(
    p: &HashMap<String, String>,
    within: Option<&'a FsPath>,
) -> Result<QueryOptions<'a>, ApiError> {
    Ok(QueryOptions {
        k: param_usize(p, "k", 20, MAX_K)?,
        segments: param_flag(p, "segments"),
        exact: param_flag(p, "exact"),
        within,
        ..QueryOptions::default()
    })
}

async fn search(State(st): State<Shared>, Query(p): Params) -> ApiResult {
    let text = p.get("q").cloned().unwrap_or_default();
    blocking(move || {
        let within = param_within(&p)?;
        let opts = query_options(&p, within.as_deref())?;
        let snap = st.snapshot();
        let vector = st.with_model(|m| query::text_vector(m, &text))?;
        let hits = query::neighbours(&snap.index, &vector, &opts)?;
        Ok(json_response(&hits_json(&hits)))
    })
    .await
}

async fn similar_by_id(State(st): State<Shared>, Query(p): Params) -> ApiResult {
    blocking(move || {
        let id = param_id(p.get("id").map_or("", String::as_str))?;
        let within = param_within(&p)?;
        let snap = st.snapshot();
        let f = file_of(&snap.index, id)?;
        let vector = snap
            .index
            .file_vector(f)
            .ok_or_else(|| {
                ApiError::not_found(format!("file {id} has no vector (it failed to index)"))
            })?
            .to_vec();
        let mut opts = query_options(&p, within.as_deref())?;
        opts.exclude = Some(&f.path);
        let hits = query::neighbours(&snap.index, &vector, &opts)?;
        Ok(json_response(&hits_json(&hits)))
    })
    .await
}

/// A safe file-name extension for the temporary copy of an upload (a hint to the decoder's probe).
fn upload_extension(p: &HashMap<String, String>, headers: &HeaderMap) -> String {
    let from_name = p
        .get("name")
        .and_then(|n| FsPath::new(n).extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let from_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| match t.split(';').next().unwrap_or("").trim() {
            "audio/wav" | "audio/x-wav" | "audio/wave" => Some("wav"),
            "audio/mpeg" => Some("mp3"),
            "audio/ogg" => Some("ogg"),
            "audio/flac" | "audio/x-flac" => Some("flac"),
            "audio/mp4" | "audio/x-m4a" => Some("m4a"),
            "audio/aiff" | "audio/x-aiff" => Some("aiff"),
            _ => None,
        })
        .map(str::to_string);
    from_name
        .or(from_type)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

async fn similar_by_upload(State(st): State<Shared>, Query(p): Params, req: Request) -> ApiResult {
    let ext = upload_extension(&p, req.headers());
    let name = p
        .get("name")
        .cloned()
        .unwrap_or_else(|| format!("upload.{ext}"));
    let limit = st.upload_limit;
    let too_big = || {
        ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "{name}: the upload is larger than the limit of {limit} bytes (avx serve --upload-limit MB)"
        ),
    }
    };
    // A declared length over the limit is refused before any of the body is read; a chunked body is cut off at
    // the limit.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let body: Bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| too_big())?;
    blocking(move || {
        if body.is_empty() {
            return Err(ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!(
                    "{name}: the upload is empty: send the audio file's bytes as the request body"
                ),
            });
        }
        let within = param_within(&p)?;
        let opts = query_options(&p, within.as_deref())?;
        // A private temporary file (mode 0600, in the system temporary directory, never in a library root),
        // removed when `tmp` drops, whatever happens.
        let mut tmp = tempfile::Builder::new()
            .prefix("avx-upload-")
            .suffix(&format!(".{ext}"))
            .tempfile()
            .map_err(|e| ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: format!("cannot store the upload in a temporary file: {e}"),
            })?;
        std::io::Write::write_all(&mut tmp, &body).map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("cannot store the upload in a temporary file: {e}"),
        })?;
        let tmp_path = tmp.path().to_path_buf();
        let vector = st
            .with_model(|m| query::file_vector(m, &tmp_path, st.hop_s))
            .map_err(|e| {
                let mut err = ApiError::from(e);
                err.message = err
                    .message
                    .replace(&tmp_path.to_string_lossy().into_owned(), &name);
                err
            })?;
        drop(tmp);
        let snap = st.snapshot();
        let hits = query::neighbours(&snap.index, &vector, &opts)?;
        Ok(json_response(&hits_json(&hits)))
    })
    .await
}

async fn dupes(State(st): State<Shared>, Query(p): Params) -> ApiResult {
    blocking(move || {
        let threshold = match p.get("threshold") {
            None => None,
            Some(t) => Some(t.parse::<f32>().map_err(|_| {
                ApiError::bad(format!("threshold={t}: expected a number between 0 and 1"))
            })?),
        };
        let within = param_within(&p)?;
        let snap = st.snapshot();
        let groups = duplicate_groups(
            &snap.index,
            &DupesOptions {
                threshold,
                segments: param_flag(&p, "segments"),
                within: within.as_deref(),
                ..DupesOptions::default()
            },
        )?;
        Ok(numbered(&groups, |g, n| g.json(n, true)))
    })
    .await
}

async fn cluster_list(State(st): State<Shared>, Query(p): Params) -> ApiResult {
    blocking(move || {
        let snap = st.snapshot();
        let files = (snap.index.stats().files - snap.index.stats().failed).max(1) as usize;
        let k = param_usize(&p, "k", 8.min(files), files)?;
        let within = param_within(&p)?;
        let opts = ClusterOptions {
            k,
            seed: 0,
            within: within.as_deref(),
            labels: 3,
        };
        let label = st.has_text() && p.get("labels").is_none_or(|v| v != "0");
        let result = if label {
            st.with_model(|m| clusters(&snap.index, &opts, Some(m)))?
        } else {
            clusters(&snap.index, &opts, None)?
        };
        Ok(numbered(&result, |c, n| c.json(n, true)))
    })
    .await
}

async fn map(State(st): State<Shared>) -> ApiResult {
    let body = blocking(move || {
        let snap = st.snapshot();
        let commits = snap.index.stats().commits;
        let mut cached = st.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((c, body)) = cached.as_ref() {
            if *c == commits {
                return Ok(body.clone());
            }
        }
        let body = Arc::new(avx_core::map::cached_json(&snap.index)?);
        *cached = Some((commits, body.clone()));
        Ok(body)
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

fn file_json(st: &AppState, f: &avx_index::FileMeta) -> Value {
    let lufs = st
        .loudness
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(f)
        .flatten();
    json!({
        "type": "file",
        "id": f.id,
        "path": avx_core::path_json(&f.path),
        "name": f.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        "folder": f.path.parent().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        "size": f.size,
        "duration": f.duration_s,
        "sample_rate": f.sample_rate,
        "channels": f.channels,
        "codec": f.codec,
        "status": format!("{:?}", f.status).to_lowercase(),
        "error": f.error,
        "windows": f.windows,
        "lufs": lufs,
        "audio": audio_json(f),
    })
}

/// `{"type", "name"}`: what `/audio/ID` sends for this file (see [`served_as`]).
fn audio_json(f: &avx_index::FileMeta) -> Value {
    let (content_type, name) = served_as(f);
    json!({"type": content_type, "name": name})
}

async fn file_info(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let id = param_id(&id)?;
    let snap = st.snapshot();
    let f = file_of(&snap.index, id)?;
    Ok(json_response(&file_json(&st, f)))
}

/// `{"type": "peaks", "id", "peaks": [...], "lufs"}`: the waveform and the loudness, measured (and the loudness
/// stored in the cache) on first request.
async fn peaks(State(st): State<Shared>, Path(id): Path<String>, Query(p): Params) -> ApiResult {
    let id = param_id(&id)?;
    let n = param_usize(&p, "n", 200, 4000)?;
    blocking(move || {
        let snap = st.snapshot();
        let f = file_of(&snap.index, id)?;
        drop(open_indexed(f)?);
        let a = avx_core::audio::analyse(&f.path, n)?;
        {
            let mut cache = st.loudness.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(f).is_none() {
                cache.insert(f, a.lufs);
                // The cache is derived data: failing to store it costs a re-measure, not the answer. The server
                // saves what is left when it stops.
                let _ = cache.save_if_due(std::time::Duration::from_secs(2));
            }
        }
        Ok(json_response(&json!({
            "type": "peaks",
            "id": id,
            "peaks": a.peaks,
            "lufs": a.lufs,
            "duration": a.duration_s,
            "audio": audio_json(f),
        })))
    })
    .await
}

/// Most labels or examples one timeline request names.
const MAX_NAMES: usize = 64;

/// The comma-separated list `name` of `p` (empty when absent), at most [`MAX_NAMES`] items.
fn param_list(p: &HashMap<String, String>, name: &str) -> Result<Vec<String>, ApiError> {
    let items: Vec<String> = p.get(name).map(|v| comma_list(v)).unwrap_or_default();
    if items.len() > MAX_NAMES {
        return Err(ApiError::bad(format!("{name}: at most {MAX_NAMES} items")));
    }
    Ok(items)
}

/// `{"type": "timeline", "id", "duration", "segments": [{"start", "end", "kind", "motif"?, "like"?: {"id",
/// "name", "score"}, "label"?: {"label", "score"}}]}`: the file as a programme, the segments `avx timeline` prints
/// (`avx_core::timeline::programme`). `labels=a,b` names each segment with the best label (models with a text
/// tower); `like=ID,ID` with the nearest of those indexed files; motifs come from `avx serve --motifs`.
async fn file_timeline(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(p): Params,
) -> ApiResult {
    let id = param_id(&id)?;
    blocking(move || {
        let snap = st.snapshot();
        let f = file_of(&snap.index, id)?;
        drop(open_indexed(f)?);
        let labels = param_list(&p, "labels")?;
        let labels = if labels.is_empty() {
            None
        } else if !st.has_text() {
            return Err(ApiError::bad(format!(
                "model '{}' is audio-only: it has no text tower to score labels; name segments with like=ID \
                 (indexed example files) instead",
                st.model_name()
            )));
        } else {
            Some(st.with_model(|m| {
                avx_core::LabelSet::embed(m, Some(labels), avx_core::tags::DEFAULT_TEMPLATE)
            })?)
        };
        let mut like = Vec::new();
        for raw in param_list(&p, "like")? {
            let example = file_of(&snap.index, param_id(&raw)?)?;
            let v = snap.index.file_vector(example).ok_or_else(|| {
                ApiError::not_found(format!("file {raw} has no vector (it failed to index)"))
            })?;
            like.push((example, v.to_vec()));
        }
        let examples: Vec<Vec<f32>> = like.iter().map(|(_, v)| v.clone()).collect();
        let occurrences = match &st.motifs {
            Some(saved) => avx_core::recurring::saved_occurrences(saved, &f.path)?,
            None => Vec::new(),
        };
        let segments = avx_core::timeline::programme(
            &snap.index,
            f,
            &avx_core::timeline::ProgrammeOptions {
                occurrences: &occurrences,
                examples: &examples,
                labels: labels.as_ref().map_or(&[], |l| l.vectors()),
                ..Default::default()
            },
        )?;
        let segments: Vec<Value> = segments
            .iter()
            .map(|s| {
                let mut v = json!({"start": s.start, "end": s.end, "kind": s.kind_name()});
                if let Some(m) = s.motif() {
                    v["motif"] = json!(m);
                }
                if let Some((i, score)) = s.like {
                    let (example, _) = &like[i];
                    v["like"] = json!({"id": example.id, "name": avx_core::path_text(&example.path), "score": score});
                }
                if let (Some((i, score)), Some(l)) = (s.label, &labels) {
                    v["label"] = json!({"label": l.labels()[i], "score": score});
                }
                v
            })
            .collect();
        Ok(json_response(&json!({
            "type": "timeline",
            "id": id,
            "duration": f.duration_s,
            "segments": segments,
        })))
    })
    .await
}

/// The original bytes (with Range support) when a browser can play them, else a WAV made on the fly.
async fn audio(State(st): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    let id = param_id(&id)?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    blocking(move || {
        let snap = st.snapshot();
        let f = file_of(&snap.index, id)?;
        let file = open_indexed(f)?;
        match playable_type(f) {
            Some(ct) => {
                let len = f.size;
                ranged(range.as_deref(), len, ct, |a, b| {
                    file_body(file, &f.path, a, b).map_err(ApiError::from)
                })
            }
            None => {
                drop(file);
                if f.duration_s > MAX_TRANSCODE_S {
                    return Err(ApiError {
                        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        message: format!(
                            "{}: {} is not playable in a browser and the file is too long to convert on the fly",
                            f.path.display(),
                            f.codec
                        ),
                    });
                }
                let wav = transcode(&f.path)?;
                let len = wav.len() as u64;
                ranged(range.as_deref(), len, "audio/wav", |a, b| {
                    Ok(Body::from(wav[a as usize..=b as usize].to_vec()))
                })
            }
        }
    })
    .await
}

fn transcode(path: &FsPath) -> Result<Vec<u8>, ApiError> {
    let mut dec = avx_embed::decode::Decoder::open(path).map_err(CoreError::from)?;
    let rate = dec.info().sample_rate;
    let mut samples = Vec::new();
    while let Some(chunk) = dec.next_chunk().map_err(CoreError::from)? {
        samples.extend_from_slice(chunk);
    }
    Ok(wav_bytes(&samples, rate))
}

fn ranged(
    range: Option<&str>,
    len: u64,
    content_type: &str,
    body: impl FnOnce(u64, u64) -> Result<Body, ApiError>,
) -> ApiResult {
    let common = |b: axum::http::response::Builder| {
        b.header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::CACHE_CONTROL, "no-cache")
    };
    let response = match parse_range(range, len) {
        RangeRequest::Unsatisfiable => common(Response::builder())
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{len}"))
            .body(Body::empty()),
        RangeRequest::Whole => {
            let body = if len == 0 {
                Body::empty()
            } else {
                body(0, len - 1)?
            };
            common(Response::builder())
                .status(StatusCode::OK)
                .body(body)
        }
        RangeRequest::Part(a, b) => {
            let body = body(a, b)?;
            common(Response::builder())
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"))
                .body(body)
        }
    };
    response.map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.to_string(),
    })
}
