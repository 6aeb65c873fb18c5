//! The WebSocket adapter: natural-language commands onto the same [`Agents`] as gRPC.

use axum::Router;

use crate::domain::Agents;

/// Limits of the WebSocket adapter.
#[derive(Debug, Clone, Copy)]
pub struct WsConfig {
    /// Largest frame accepted; bigger gets an error frame.
    pub max_frame_bytes: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1024 * 1024,
        }
    }
}

/// Routes of the adapter (`/ws`), to merge into the HTTP app.
pub fn router(_agents: Agents, _config: WsConfig) -> Router {
    Router::new()
}
