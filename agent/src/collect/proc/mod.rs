//! Host and per-user figures from `/proc` and `statvfs`.
//! OWNED BY THE PROC HELPER — stub until then.
