//! TODO(frontend): being written.
