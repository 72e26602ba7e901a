//! TODO(resample): being written.
