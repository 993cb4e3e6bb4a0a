//! gRPC server: peer checks, limits, conversion of collector results.
