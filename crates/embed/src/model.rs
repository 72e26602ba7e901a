//! TODO(model): being written.
