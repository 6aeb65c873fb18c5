//! The browser dashboard, served at `/`: a live task board (from ListTasks, then live), the
//! notification feed, a command box, and a page per task with its report's charts.
//!
//! Plain HTML, CSS and a JavaScript module from `assets/dashboard/`, compiled into the binary:
//! no build step, nothing to deploy beside `rift`. The page holds no state the server must
//! keep; it talks to the WebSocket adapter (`/ws`, relative to the page) with typed frames, so
//! it has exactly the powers of any WebSocket client, under the same token. It knows no command
//! grammar: what a person types goes to the server as typed (`{"text": ...}`), and the list of
//! commands it shows is the server's `help`.

use axum::{
    Router,
    http::{
        HeaderValue,
        header::{self, HeaderName},
    },
    response::IntoResponse,
    routing::get,
};

const INDEX_HTML: &str = include_str!("../assets/dashboard/index.html");
const DASHBOARD_JS: &str = include_str!("../assets/dashboard/dashboard.js");
const DASHBOARD_CSS: &str = include_str!("../assets/dashboard/dashboard.css");

/// Only the page's own files and its own WebSocket: the page renders server data with
/// `textContent`, and this forbids whatever might slip through anyway.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `/`, `/dashboard.js` and `/dashboard.css`.
pub fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/dashboard.js",
            get(|| async { asset("text/javascript; charset=utf-8", DASHBOARD_JS) }),
        )
        .route(
            "/dashboard.css",
            get(|| async { asset("text/css; charset=utf-8", DASHBOARD_CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 4] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // The files change with the binary; revalidating is cheap next to a stale page.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
    ];
    (headers, body)
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt as _;

    use super::*;

    async fn get(path: &str) -> (String, String) {
        let response = router()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("content type")
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            content_type,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    #[tokio::test]
    async fn the_page_and_its_files_are_served_from_the_binary() {
        let (content_type, page) = get("/").await;
        assert!(content_type.starts_with("text/html"));
        assert!(page.contains(r#"<script type="module" src="dashboard.js">"#));
        assert!(page.contains(r#"href="dashboard.css""#));
        let (content_type, script) = get("/dashboard.js").await;
        assert!(content_type.starts_with("text/javascript"));
        assert!(script.contains("new WebSocket(url, protocols)"));
        let (content_type, _) = get("/dashboard.css").await;
        assert!(content_type.starts_with("text/css"));
    }
}
