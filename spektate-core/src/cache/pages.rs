//! List pages kept with their ETags across processes, so another process revalidates a page
//! with `If-None-Match` (a `304` with no body) instead of downloading it again.
//!
//! A page is kept under a key its reader derives from the URL and the identity of the
//! credential that fetched it (`etag_cache::Identity`, a SHA-256 of the token, never the
//! token), so a page fetched with one token is never served to a request made with another.
//! No request header is kept; a page is its `ETag`, its body and the URL of the next page.

use crate::error::Result;

/// A page as kept: its validator, its body and the next page of its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    /// The `ETag` the service sent (`W/"..."` included).
    pub etag: String,
    /// The body it validates.
    pub body: Vec<u8>,
    /// The next page of the list, from the answer's `Link` header.
    pub next: Option<String>,
}

/// Where pages are kept, bounded in bytes: the oldest pages go first.
pub trait PageCache: Send + Sync {
    /// The page kept under `key`, if any.
    fn page(&self, key: &str) -> Result<Option<StoredPage>>;

    /// Keeps `page` under `key`, replacing the one kept there; a page larger than the cache's
    /// largest entry is not kept (and one kept under `key` is dropped).
    fn put_page(&self, key: &str, page: &StoredPage) -> Result<()>;

    /// Drops the page kept under `key` (the object is gone).
    fn remove_page(&self, key: &str) -> Result<()>;
}
