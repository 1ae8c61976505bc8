//! Auto-analyze (filled in below).
