//! TODO(npy): being written.
