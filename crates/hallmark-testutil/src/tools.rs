//! skopeo and other peer tools (implemented by the test-infrastructure work).
