//! Cloudflare Images error codes as an enum.
