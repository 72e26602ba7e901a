//! TODO(window): being written.
