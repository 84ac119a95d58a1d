//! Uploads and copies on Google Cloud Storage through its JSON API.
//!
//! `object_store` uploads to GCS with the XML API (`PUT /bucket/object`),
//! which GCS itself accepts but its emulators do not (fake-gcs-server
//! answers "invalid uploadType", gcp-storage-emulator returns no ETag), so
//! writes could not be tested against a real server. The JSON API's media
//! upload is what Google's own client libraries use and what emulators
//! implement; the bearer token still comes from `object_store`'s credential
//! chain, and reads, listings and deletes stay with `object_store`.

use object_store::gcp::GcpCredentialProvider;
use object_store::path::Path as ObjectPath;

/// Writes objects of one bucket through the JSON API.
pub(super) struct GcsWriter {
    client: reqwest::Client,
    /// `https://storage.googleapis.com`, or an emulator's URL.
    base: String,
    bucket: String,
    credentials: GcpCredentialProvider,
}

/// A JSON API path segment: everything but unreserved characters encoded,
/// `/` included (an object name is one segment).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl GcsWriter {
    pub(super) fn new(base: &str, bucket: &str, credentials: GcpCredentialProvider) -> Self {
        GcsWriter {
            client: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            credentials,
        }
    }

    /// Creates or replaces `object` with `data` (one request: atomic).
    pub(super) async fn put(&self, object: &ObjectPath, data: Vec<u8>) -> object_store::Result<()> {
        let url = format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}",
            self.base,
            segment(&self.bucket),
            segment(object.as_ref())
        );
        let request = self
            .client
            .post(url)
            .header("Content-Type", "application/octet-stream")
            .body(data);
        self.send(object, request).await
    }

    /// Copies `from` to `to` inside the bucket, on the server.
    pub(super) async fn copy(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
    ) -> object_store::Result<()> {
        let url = format!(
            "{}/storage/v1/b/{bucket}/o/{}/copyTo/b/{bucket}/o/{}",
            self.base,
            segment(from.as_ref()),
            segment(to.as_ref()),
            bucket = segment(&self.bucket),
        );
        self.send(from, self.client.post(url).header("Content-Length", "0"))
            .await
    }

    async fn send(
        &self,
        object: &ObjectPath,
        request: reqwest::RequestBuilder,
    ) -> object_store::Result<()> {
        let token = self.credentials.get_credential().await?;
        let request = if token.bearer.is_empty() {
            request
        } else {
            request.bearer_auth(&token.bearer)
        };
        let path = object.to_string();
        let generic =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                store: "GCS",
                source,
            };
        let response = request.send().await.map_err(|e| generic(Box::new(e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let source: Box<dyn std::error::Error + Send + Sync> =
            format!("{status}: {}", body.trim()).into();
        Err(match status.as_u16() {
            401 => object_store::Error::Unauthenticated { path, source },
            403 => object_store::Error::PermissionDenied { path, source },
            404 => object_store::Error::NotFound { path, source },
            _ => generic(source),
        })
    }
}
