//! The command-line grammar. Every flag's doc comment is its help text; flag names are a contract that scripts
//! rely on.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// avx: search a library of sounds by sound and by words.
///
/// avx decodes audio files, embeds them with a CLAP model (ONNX Runtime, on this machine), stores the vectors in
/// an index, and finds neighbours: similar sounds, text queries, near-duplicates, clusters.
///
/// Exit codes: 0 results found (or the command succeeded), 1 ran fine but found nothing, 2 error.
#[derive(Debug, Parser)]
#[command(name = "avx", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Index directory (default: one index in the user's data directory, which can hold many library roots)
    #[arg(long, global = true, env = "AVX_INDEX", value_name = "PATH")]
    pub index: Option<PathBuf>,
    /// Model name (see `avx model list`)
    #[arg(long, global = true, env = "AVX_MODEL", value_name = "NAME")]
    pub model: Option<String>,
    /// Use the model in this local directory (Hugging Face/Xenova layout), offline
    #[arg(long, global = true, env = "AVX_MODEL_DIR", value_name = "PATH")]
    pub model_dir: Option<PathBuf>,
    /// Model weights: fp32, fp16 or int8 [default: fp32; `avx search` embeds its text with the int8 text tower
    /// when the model has one]
    #[arg(long, global = true, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Where inference runs: cpu, cuda, coreml or auto
    #[arg(long, global = true, default_value = "cpu", value_name = "DEVICE")]
    pub device: String,
    /// Threads for decoding and inference together (default: all cores)
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Print JSON Lines (one object per line, each with a "type" field) instead of tables
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar and no summary on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More messages on stderr: -v says what avx is doing (graph builds), -vv adds details (each damaged
    /// packet), -vvv includes the libraries avx uses. RUST_LOG, when set, replaces these (env_logger syntax)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decode, embed and store audio files (incremental and resumable)
    Index(IndexArgs),
    /// Find the sounds most like an audio file
    Similar(SimilarArgs),
    /// Find sounds matching a text description
    Search(SearchArgs),
    /// Find near-duplicates: re-encodes, trims, gain changes
    Dupes(DupesArgs),
    /// Group the library into k clusters (k-means)
    Cluster(ClusterArgs),
    /// Zero-shot tags for audio files
    Tag(TagArgs),
    /// Find what recurs across long recordings (idents, jingles, beds, adverts) and every occurrence
    Recurring(RecurringArgs),
    /// Cut one recording into segments: recurring motifs, silence, nearest examples, zero-shot labels
    Timeline(TimelineArgs),
    /// Write the stored vectors to files
    Export(ExportArgs),
    /// Push the index into a PostgreSQL/pgvector table (incremental: only what changed)
    Push(PushArgs),
    /// Merge indexes (e.g. the shards of `avx index --shard`) into one
    Merge(MergeArgs),
    /// What is indexed: roots, files, hours, model, sizes
    Info,
    /// Serve a web page to audition, search and browse the library, and a JSON API for programs
    Serve(ServeArgs),
    /// Check every checksum and cross-reference of the index
    Verify,
    /// List, fetch and locate models
    #[command(subcommand)]
    Model(ModelCommand),
    /// Print vectors of audio files or of a text
    Embed(EmbedArgs),
    /// Developer tools
    #[command(subcommand)]
    Debug(DebugCommand),
    /// Print a shell completion script
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (a non-loopback address requires a token: --token, or one is generated and printed)
    #[arg(long, default_value = avx_server::DEFAULT_BIND, value_name = "ADDR:PORT")]
    pub bind: std::net::SocketAddr,
    /// Open the page in the default browser
    #[arg(long)]
    pub open: bool,
    /// Require this token from every request (header `Authorization: Bearer T`, or the cookie the printed link sets)
    #[arg(long, env = "AVX_TOKEN", value_name = "T")]
    pub token: Option<String>,
    /// Allow cross-origin requests from this origin (e.g. http://localhost:3000); none by default
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// Largest reference sound accepted by POST /api/similar, in MB
    #[arg(long, default_value_t = 50, value_name = "MB")]
    pub upload_limit: usize,
    /// A saved `avx --json recurring` run: the timeline view cuts each file at its motif occurrences
    #[arg(long, value_name = "FILE")]
    pub motifs: Option<PathBuf>,
}

/// How a list of results is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    /// A table for people (or JSON Lines with --json)
    #[default]
    Table,
    /// One path per line
    Paths,
    /// An extended M3U playlist
    M3u,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Files or directories to index
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Skip paths matching this glob (repeatable), e.g. '**/Ableton Project Info/**'
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Follow symbolic links
    #[arg(long)]
    pub follow_links: bool,
    /// Seconds between the starts of consecutive windows in files longer than one window
    #[arg(long, value_name = "SECONDS")]
    pub hop: Option<f64>,
    /// Try again files that failed in an earlier run
    #[arg(long)]
    pub retry_failed: bool,
    /// Wait for another process's indexing to finish instead of failing
    #[arg(long)]
    pub wait: bool,
    /// Build the HNSW graphs even below 20,000 vectors, where an exact scan is faster (for --approximate)
    #[arg(long)]
    pub graph: bool,
    /// Index only shard I of N (1 <= I <= N): the files whose path hash falls in it (README "Splitting the work"),
    /// so that N machines over one mount each index a disjoint part
    #[arg(long, value_name = "I/N")]
    pub shard: Option<avx_index::Shard>,
}

/// Where `--db` queries go.
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Query this PostgreSQL/pgvector database (filled by `avx push`) instead of the local index, e.g.
    /// postgres://USER@HOST:5432/DB (password from PGPASSWORD or ~/.pgpass)
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// The table of --db and of `avx push`
    #[arg(long, default_value = avx_pg::DEFAULT_TABLE, value_name = "NAME")]
    pub table: String,
}

#[derive(Debug, Args, Clone)]
pub struct ResultArgs {
    /// Number of results
    #[arg(short = 'k', long = "k", default_value_t = 20, value_name = "N")]
    pub k: usize,
    /// Search 10-second windows instead of whole files, and print each hit's offset
    #[arg(long)]
    pub segments: bool,
    /// Only results under this directory
    #[arg(long = "in", value_name = "DIR")]
    pub within: Option<PathBuf>,
    /// Exact (brute-force) search instead of the HNSW graph
    #[arg(long, conflicts_with = "approximate")]
    pub exact: bool,
    /// Search the HNSW graph whenever the index has one, even where an exact scan would be used (small indexes)
    #[arg(long)]
    pub approximate: bool,
    /// Beam width of a graph search (default 96): wider finds more of the true nearest neighbours, slower
    #[arg(long, value_name = "N", conflicts_with = "exact", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub ef: Option<u32>,
    /// Output format for the result list
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// The query: any audio file, indexed or not
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub results: ResultArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for, in words
    #[arg(value_name = "TEXT", required = true, num_args = 1..)]
    pub text: Vec<String>,
    #[command(flatten)]
    pub results: ResultArgs,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct DupesArgs {
    /// Score at or above which two files are duplicates: the sound-print score when both files have prints
    /// (default 0.9), else the cosine of their vectors (default 0.97 for CLAP models, 0.985 for aiSFX; always
    /// for --segments and --db); defaults from the measurements in eval/README.md
    #[arg(long, value_name = "SCORE")]
    pub threshold: Option<f32>,
    /// Cosine of the file vectors a pair needs before its sound prints are compared (default 0.8)
    #[arg(long, value_name = "COSINE")]
    pub gate: Option<f32>,
    /// Only files under this directory
    #[arg(long = "in", value_name = "DIR")]
    pub within: Option<PathBuf>,
    /// Compare 10-second windows across and within files (recurring jingles, beds, adverts)
    #[arg(long)]
    pub segments: bool,
    /// Candidate neighbours examined per item
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub candidates: usize,
    #[command(flatten)]
    pub db: DbArgs,
}

/// How `recurring` and `timeline` print their results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ArchiveFormat {
    /// A table for people (or JSON Lines with --json)
    #[default]
    Table,
    /// Comma-separated values with a header line
    Csv,
    /// An Audacity label track (start, end, label; tab-separated): File > Import > Labels
    Audacity,
}

/// How recurring motifs are found (shared by `recurring` and `timeline`).
#[derive(Debug, Args, Clone)]
pub struct MotifArgs {
    /// Only recordings under this directory
    #[arg(long = "in", value_name = "DIR")]
    pub within: Option<PathBuf>,
    /// Fewest occurrences of a motif
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub min_occurrences: usize,
    /// Shortest occurrence, in seconds ("2", "2s" or "1.5s")
    #[arg(long, default_value = "2s", value_parser = parse_seconds, value_name = "DURATION")]
    pub min_length: f32,
    /// Cosine similarity (after subtracting the mean window) at or above which two windows match (default
    /// 0.85, measured with aiSFX in eval/archive)
    #[arg(long, value_name = "SCORE")]
    pub threshold: Option<f32>,
    /// Candidate neighbours examined per window
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub candidates: usize,
    /// How motifs are found: landmark hashes of the audio (exact repeats), window vectors (passages that sound
    /// alike), or both
    #[arg(long, value_enum, default_value_t = MotifMethod::Both)]
    pub method: MotifMethod,
}

/// `--method` of `recurring` and `timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum MotifMethod {
    /// Landmarks and windows, joined
    #[default]
    Both,
    /// Landmark hashes only (exact repeats of one recording)
    Landmarks,
    /// Window vectors only
    Windows,
}

impl From<MotifMethod> for avx_core::recurring::Method {
    fn from(m: MotifMethod) -> Self {
        match m {
            MotifMethod::Both => Self::Both,
            MotifMethod::Landmarks => Self::Landmarks,
            MotifMethod::Windows => Self::Windows,
        }
    }
}

/// Seconds from "2", "2s", "2.5s" or "500ms".
pub fn parse_seconds(s: &str) -> Result<f32, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f32>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v * scale),
        _ => Err(format!(
            "'{s}' is not a duration: write seconds, e.g. 2, 2s, 1.5s or 500ms"
        )),
    }
}

#[derive(Debug, Args)]
pub struct RecurringArgs {
    #[command(flatten)]
    pub motifs: MotifArgs,
    /// Print only the occurrences in this file (the motifs are still found across all recordings)
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format (audacity needs --file: one label track per recording)
    #[arg(long, value_enum, default_value_t = ArchiveFormat::Table)]
    pub format: ArchiveFormat,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The recording (it must be indexed)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Comma-separated labels scored with the text tower, e.g. "speech,music,jingle,silence,applause" (CLAP
    /// models only)
    #[arg(long, value_name = "LIST")]
    pub labels: Option<String>,
    /// Example clips: each segment is named after the nearest one (repeatable; any model)
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub like: Vec<PathBuf>,
    /// Prompt template for --labels; {} is replaced by the label
    #[arg(
        long,
        default_value = "This is a sound of {}.",
        value_name = "TEMPLATE"
    )]
    pub template: String,
    /// Level below which audio is silence, dBFS
    #[arg(long, default_value_t = -50.0, value_name = "DB", allow_negative_numbers = true)]
    pub silence_db: f32,
    #[command(flatten)]
    pub motifs: MotifArgs,
    /// Motifs saved by `avx --json recurring > FILE`: read their occurrences in this recording instead of
    /// discovering the motifs again (seconds instead of minutes per programme; the discovery options are then
    /// ignored)
    #[arg(long = "motifs", value_name = "FILE")]
    pub saved_motifs: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ArchiveFormat::Table)]
    pub format: ArchiveFormat,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Number of clusters
    #[arg(short = 'k', long = "k", default_value_t = 12, value_name = "N")]
    pub k: usize,
    /// Seed of the k-means++ initialisation (same seed, same clusters)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,
    /// Name each cluster with the best-matching words of the built-in tag vocabulary (needs a text model)
    #[arg(long)]
    pub label: bool,
    /// Only files under this directory
    #[arg(long = "in", value_name = "DIR")]
    pub within: Option<PathBuf>,
    /// Members printed per cluster in tables (all members are in --json output)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub show: usize,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Audio files to tag
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Comma-separated labels to score (default: the built-in vocabulary)
    #[arg(long, value_name = "LIST")]
    pub labels: Option<String>,
    /// Tags printed per file
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Prompt template; {} is replaced by the label
    #[arg(
        long,
        default_value = "This is a sound of {}.",
        value_name = "TEMPLATE"
    )]
    pub template: String,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON file per audio file
    Audiovector,
    /// One JSON line per audio file, in one file
    Jsonl,
    /// vectors.npy and ids.json
    Npy,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ExportFormat::Audiovector)]
    pub format: ExportFormat,
    /// Output directory
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Include each file's window vectors with their start and end
    #[arg(long)]
    pub segments: bool,
    /// Only files under this directory
    #[arg(long = "in", value_name = "DIR")]
    pub within: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The database, e.g. postgres://USER@HOST:5432/DB?sslmode=disable (libpq conventions: the password from
    /// PGPASSWORD or ~/.pgpass; never printed)
    #[arg(value_name = "URL")]
    pub url: String,
    /// Table to create or update (also TABLE_windows and TABLE_avx)
    #[arg(long, default_value = avx_pg::DEFAULT_TABLE, value_name = "NAME")]
    pub table: String,
    /// Also push every 10-second window's vector (for `--db --segments` queries)
    #[arg(long)]
    pub segments: bool,
    /// HNSW graph degree of the database's index (pgvector `m`)
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub hnsw_m: u32,
    /// HNSW build beam width of the database's index (pgvector `ef_construction`)
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub hnsw_ef_construction: u32,
    /// Name of this push's rows: a push deletes only its own rows of removed files (default: host name and
    /// index directory; give each shard's machine its own)
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// A library root for the table's `root` column (repeatable; default: each path's first two components)
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    /// Files per COPY batch and transaction
    #[arg(long, default_value_t = 5000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged index (created; an existing one must have the same model)
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// The indexes to merge (same model, front end and dimension)
    #[arg(value_name = "IDX", required = true)]
    pub inputs: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Known models: dimension, size, whether present
    List,
    /// Download a model into the cache directory (resumable, verified)
    Fetch {
        /// Model name (default: the --model option or clap-htsat-unfused)
        name: Option<String>,
    },
    /// Print the directory the model is loaded from
    Path,
    /// Rehash the model's ONNX files, compare with the pinned or downloaded hashes, and record them (loads then
    /// check only size and modification time)
    Verify,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Audio files
    #[arg(value_name = "FILE", required_unless_present = "text")]
    pub files: Vec<PathBuf>,
    /// Embed this text instead of files
    #[arg(long, value_name = "TEXT", conflicts_with = "files")]
    pub text: Option<String>,
    /// Also print each window's vector with its start and end
    #[arg(long)]
    pub segments: bool,
    /// Seconds between window starts in long files
    #[arg(long, value_name = "SECONDS")]
    pub hop: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Write the model input of a file as NumPy float32 [windows, frames, mels] and print window times
    Mel {
        /// Audio file
        file: PathBuf,
        /// Output .npy path
        #[arg(long, value_name = "PATH.npy")]
        out: PathBuf,
        /// Seconds between window starts in long files
        #[arg(long, value_name = "SECONDS")]
        hop: Option<f64>,
    },
}
