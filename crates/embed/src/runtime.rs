//! TODO(runtime): being written.
