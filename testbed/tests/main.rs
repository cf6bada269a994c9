//! Integration tests of the testbed on this machine; one module per behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lifecycle;
