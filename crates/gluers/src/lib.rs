//! gluers
