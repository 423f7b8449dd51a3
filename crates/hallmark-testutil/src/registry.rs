//! docker-registry on loopback (implemented by the registry work).
