//! TODO(decode): being written.
