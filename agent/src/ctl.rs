//! `twoine-agent ctl`: the operator's client over the same gRPC API.
