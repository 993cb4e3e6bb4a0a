//! Site-tree measures: bytes and file counts in one bounded, parallel, cached walk.
//! OWNED BY THE WALK HELPER — stub until then.
