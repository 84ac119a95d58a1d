//! The gluers experiment engine.
