//! Object storage (S3, GCS, Azure Blob) through the `object_store` crate.
//!
//! Object stores have no folders: a folder is the prefix `<key>/` of the
//! objects under it, so `mkdir` is a no-op, `isdir` asks whether anything
//! lives under the prefix, and `rm -r` deletes everything under it. A write
//! is one whole-object PUT, which an object store makes visible atomically,
//! so no temporary file and rename are needed.
//!
//! `object_store` is async; gluers' runtime is sync. Each backend owns a
//! small current-thread tokio runtime and blocks on it; batches
//! ([`StorageBackend::read_many`], [`StorageBackend::list_files`]) run their
//! requests concurrently on that one thread, which is what makes
//! `--compare` over thousands of runs one listing plus parallel reads.

use std::sync::Arc;

use futures::stream::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{StorageBackend, StorageError, StorageResult};

/// How many requests a batch keeps in flight at once.
const CONCURRENCY: usize = 64;

/// A storage backend over an object store, rooted at a prefix of a bucket.
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// The root inside the bucket, without a trailing `/` (may be empty).
    prefix: String,
    /// The URL of the root, for messages: `s3://bucket/prefix`.
    url: String,
    runtime: tokio::runtime::Runtime,
    /// GCS writes through the JSON API (see `gcs.rs`).
    #[cfg(feature = "gcs")]
    gcs: Option<super::gcs::GcsWriter>,
}

/// Which object store a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    S3,
    Gcs,
    Azure,
}

impl ObjectStorage {
    /// Opens the object store that `url` names (`s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`), with credentials and
    /// endpoints from the standard environment variables, then `options`
    /// (`object_store` configuration keys such as `endpoint`,
    /// `allow_http`, `region`; they win over the environment).
    pub fn open(url: &str, options: &[(String, String)]) -> StorageResult<Self> {
        let bad = |message: String| StorageError::Invalid {
            path: url.to_string(),
            message,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("is not a storage URL; write e.g. s3://bucket/prefix".into()))?;
        let scheme = match scheme {
            "s3" | "s3a" => Scheme::S3,
            "gs" | "gcs" => Scheme::Gcs,
            "az" | "azure" | "abfs" => Scheme::Azure,
            other => {
                return Err(bad(format!(
                "unknown storage scheme '{other}'; use s3://, gs://, az://, file:// or memory://"
            )))
            }
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("names no bucket; write e.g. s3://bucket/prefix".into()));
        }
        // The prefix is confined like any key: no `..`, no empty parts.
        let prefix = super::normalize_key(prefix).map_err(|_| {
            bad(
                "the prefix after the bucket must not contain '..'; write e.g. s3://bucket/prefix"
                    .into(),
            )
        })?;
        let built = build(scheme, bucket, options).map_err(|e| {
            bad(format!(
                "{}; check the credentials and [storage] options (and the environment variables they come from)",
                one_line(&e)
            ))
        })?;
        let url = if prefix.is_empty() {
            format!("{}://{bucket}", scheme_name(scheme))
        } else {
            format!("{}://{bucket}/{prefix}", scheme_name(scheme))
        };
        #[allow(unused_mut)]
        let mut storage = Self::with_store(built.store, &url, &prefix);
        #[cfg(feature = "gcs")]
        {
            storage.gcs = built.gcs;
        }
        Ok(storage)
    }

    /// Wraps an `object_store` store the caller built (any implementation
    /// of [`ObjectStore`]), rooted at `prefix`; `url` is shown in messages.
    pub fn with_store(store: Arc<dyn ObjectStore>, url: &str, prefix: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            // Building a current-thread runtime fails only when the OS
            // refuses a timer or an epoll descriptor.
            .expect("the OS provides a tokio runtime's timer and I/O driver");
        ObjectStorage {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            url: url.trim_end_matches('/').to_string(),
            runtime,
            #[cfg(feature = "gcs")]
            gcs: None,
        }
    }

    /// The object path of a storage key (already normalised by the caller).
    ///
    /// Each `/`-separated part is percent-encoded by `object_store`, so no
    /// key, however encoded, can name an object outside the prefix.
    fn object(&self, key: &str) -> ObjectPath {
        let parts = self
            .prefix
            .split('/')
            .chain(key.split('/'))
            .filter(|p| !p.is_empty() && *p != "." && *p != "..");
        ObjectPath::from_iter(parts)
    }

    /// The prefix that holds a folder's objects, `None` for the root.
    fn folder(&self, key: &str) -> Option<ObjectPath> {
        let path = self.object(key);
        (!path.as_ref().is_empty()).then_some(path)
    }

    fn error(&self, key: &str, e: object_store::Error) -> StorageError {
        let path = self.display(key);
        match e {
            object_store::Error::NotFound { .. } => StorageError::NotFound { path },
            other => StorageError::Remote {
                message: format!("{}; {}", explain(&other), self.hint(&other)),
                path,
            },
        }
    }

    /// A failed write: "not found" there means the bucket is missing.
    fn write_error(&self, key: &str, e: object_store::Error) -> StorageError {
        match e {
            object_store::Error::NotFound { .. } => StorageError::Remote {
                path: self.display(key),
                message: format!(
                    "{}; check that the bucket exists (gluers does not create buckets)",
                    explain(&e)
                ),
            },
            other => self.error(key, other),
        }
    }

    /// What to do about an error, naming the settings of this store.
    fn hint(&self, e: &object_store::Error) -> &'static str {
        let scheme = self.url.split("://").next().unwrap_or_default();
        let denied = matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || {
            let text = e.to_string();
            text.contains("403") || text.contains("401") || text.contains("Forbidden")
        };
        match (scheme, denied) {
            ("s3", true) => "check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and that they may use this bucket",
            ("gs", true) => "check the credentials (GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT) and that they may use this bucket",
            ("az", true) => "check the credentials (AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_CONNECTION_STRING) and that they may use this container",
            ("s3", false) => "check that the bucket exists and the endpoint (AWS_ENDPOINT_URL, [storage.options] endpoint) is reachable",
            ("gs", false) => "check that the bucket exists and the endpoint (STORAGE_EMULATOR_HOST, [storage.options] base_url) is reachable",
            ("az", false) => "check that the container exists and the endpoint (AZURE_STORAGE_ENDPOINT, [storage.options] endpoint) is reachable",
            _ => "check the storage URL and that the store is reachable",
        }
    }

    fn block<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The names of the objects and sub-prefixes directly under `key`.
    fn children(&self, key: &str) -> StorageResult<Vec<String>> {
        let folder = self.folder(key);
        let listing = self
            .block(self.store.list_with_delimiter(folder.as_ref()))
            .map_err(|e| self.error(key, e))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .chain(listing.objects.iter().map(|o| &o.location))
            .filter_map(|p| p.filename().map(decode))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::S3 => "s3",
        Scheme::Gcs => "gs",
        Scheme::Azure => "az",
    }
}

/// The retries of a request: a few quick ones, so a server that is down is
/// reported in seconds, not after `object_store`'s default three minutes.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn retry() -> object_store::RetryConfig {
    use std::time::Duration;
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(30),
    }
}

/// A store as [`build`] makes it.
struct Built {
    store: Arc<dyn ObjectStore>,
    #[cfg(feature = "gcs")]
    gcs: Option<super::gcs::GcsWriter>,
}

impl Built {
    // S3 and Azure stores need nothing beside the store; GCS builds its own.
    #[cfg_attr(not(any(feature = "s3", feature = "azure")), allow(dead_code))]
    fn new(store: Arc<dyn ObjectStore>) -> Self {
        Built {
            store,
            #[cfg(feature = "gcs")]
            gcs: None,
        }
    }
}

fn build(
    scheme: Scheme,
    bucket: &str,
    options: &[(String, String)],
) -> Result<Built, object_store::Error> {
    let url = format!("{}://{bucket}", scheme_name(scheme));
    let _ = options;
    let missing = |feature: &str| {
        object_store::Error::NotSupported {
        source: format!(
            "{url}: this project was built without the gluers feature `{feature}`; enable it on the gluers dependency in Cargo.toml"
        )
        .into(),
    }
    };
    match scheme {
        #[cfg(feature = "s3")]
        Scheme::S3 => {
            let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(&url);
            for (key, value) in super::aws_profile::profile_options() {
                builder = builder.with_config(key.parse()?, value);
            }
            for (key, value) in options {
                builder = builder.with_config(key.to_ascii_lowercase().parse()?, value);
            }
            Ok(Built::new(Arc::new(builder.with_retry(retry()).build()?)))
        }
        #[cfg(feature = "gcs")]
        Scheme::Gcs => {
            let mut builder =
                object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(&url);
            if let Ok(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
                builder = builder.with_application_credentials(path);
            }
            let mut base = "https://storage.googleapis.com".to_string();
            // The emulator variable of Google's own client libraries: plain
            // HTTP to the emulator, no OAuth (a key with `disable_oauth` is
            // how object_store reaches an emulator).
            let explicit = [
                "GOOGLE_APPLICATION_CREDENTIALS",
                "GOOGLE_SERVICE_ACCOUNT",
                "GOOGLE_SERVICE_ACCOUNT_PATH",
                "GOOGLE_SERVICE_ACCOUNT_KEY",
            ]
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
            if let Some(host) = std::env::var("STORAGE_EMULATOR_HOST")
                .ok()
                .filter(|h| !h.is_empty())
            {
                base = if host.contains("://") {
                    host
                } else {
                    format!("http://{host}")
                };
                let key = serde_json::json!({
                    "gcs_base_url": base.trim_end_matches('/'),
                    "disable_oauth": true,
                    "client_email": "",
                    "private_key": "",
                    "private_key_id": "",
                });
                if !explicit {
                    builder = builder.with_service_account_key(key.to_string());
                }
                builder = builder
                    .with_client_options(object_store::ClientOptions::new().with_allow_http(true));
            }
            for (key, value) in options {
                if matches!(
                    key.to_ascii_lowercase().as_str(),
                    "base_url" | "google_base_url"
                ) {
                    base = value.clone();
                }
                builder = builder.with_config(key.to_ascii_lowercase().parse()?, value);
            }
            let store = builder.with_retry(retry()).build()?;
            let writer = super::gcs::GcsWriter::new(&base, bucket, store.credentials().clone());
            Ok(Built {
                store: Arc::new(store),
                gcs: Some(writer),
            })
        }
        #[cfg(feature = "azure")]
        Scheme::Azure => {
            let mut builder = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(&url);
            if let Ok(text) = std::env::var("AZURE_STORAGE_CONNECTION_STRING") {
                for (key, value) in azure_connection_string(&text) {
                    builder = builder.with_config(key.parse()?, value);
                }
            }
            for (key, value) in options {
                builder = builder.with_config(key.to_ascii_lowercase().parse()?, value);
            }
            Ok(Built::new(Arc::new(builder.with_retry(retry()).build()?)))
        }
        #[allow(unreachable_patterns)]
        Scheme::S3 => Err(missing("s3")),
        #[allow(unreachable_patterns)]
        Scheme::Gcs => Err(missing("gcs")),
        #[allow(unreachable_patterns)]
        Scheme::Azure => Err(missing("azure")),
    }
}

/// The parts of an Azure connection string (`AccountName=...;AccountKey=...;
/// BlobEndpoint=...`) that `object_store` takes as configuration keys.
#[cfg(feature = "azure")]
fn azure_connection_string(text: &str) -> Vec<(&'static str, String)> {
    text.split(';')
        .filter_map(|part| part.split_once('='))
        .filter_map(|(key, value)| {
            let option = match key.trim() {
                "AccountName" => "azure_storage_account_name",
                "AccountKey" => "azure_storage_account_key",
                "BlobEndpoint" => "azure_storage_endpoint",
                "SharedAccessSignature" => "azure_storage_sas_key",
                _ => return None,
            };
            Some((option, value.trim().to_string()))
        })
        .collect()
}

/// An object name as the user wrote it (`object_store` percent-encodes
/// characters object stores disallow).
fn decode(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = name
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An `object_store` error and its causes on one line.
fn explain(e: &object_store::Error) -> String {
    let mut text = match e {
        object_store::Error::Generic { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    let mut cause = std::error::Error::source(e);
    // `Generic`'s source is already its text.
    if matches!(e, object_store::Error::Generic { .. }) {
        cause = cause.and_then(std::error::Error::source);
    }
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    one_line(&text)
}

fn one_line(text: &dyn std::fmt::Display) -> String {
    text.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl StorageBackend for ObjectStorage {
    fn read(&self, path: &str) -> StorageResult<Vec<u8>> {
        let object = self.object(path);
        self.block(async {
            let got = self.store.get(&object).await?;
            got.bytes().await
        })
        .map(|b| b.to_vec())
        .map_err(|e| self.error(path, e))
    }

    fn write(&self, path: &str, data: &[u8]) -> StorageResult<()> {
        if path.is_empty() {
            return Err(StorageError::Invalid {
                path: self.display(path),
                message: "is the storage root, not a file".into(),
            });
        }
        #[cfg(feature = "gcs")]
        if let Some(gcs) = &self.gcs {
            return self
                .block(gcs.put(&self.object(path), data.to_vec()))
                .map_err(|e| self.write_error(path, e));
        }
        let payload = PutPayload::from(data.to_vec());
        self.block(self.store.put(&self.object(path), payload))
            .map(drop)
            .map_err(|e| self.write_error(path, e))
    }

    fn rm(&self, path: &str, recursive: bool) -> StorageResult<()> {
        if self.isfile(path)? {
            return self
                .block(self.store.delete(&self.object(path)))
                .map_err(|e| self.error(path, e));
        }
        if !self.isdir(path)? {
            return Err(StorageError::NotFound {
                path: self.display(path),
            });
        }
        if !recursive {
            return Err(StorageError::Invalid {
                path: self.display(path),
                message: "is a folder; remove it with recursive = true".into(),
            });
        }
        let folder = self.folder(path);
        self.block(async {
            let locations = self
                .store
                .list(folder.as_ref())
                .map_ok(|m| m.location)
                .boxed();
            self.store
                .delete_stream(locations)
                .try_collect::<Vec<_>>()
                .await
        })
        .map(drop)
        .map_err(|e| self.error(path, e))
    }

    fn cp(&self, from: &str, to: &str) -> StorageResult<()> {
        #[cfg(feature = "gcs")]
        if let Some(gcs) = &self.gcs {
            return self
                .block(gcs.copy(&self.object(from), &self.object(to)))
                .map_err(|e| self.error(from, e));
        }
        self.block(self.store.copy(&self.object(from), &self.object(to)))
            .map_err(|e| self.error(from, e))
    }

    fn ls(&self, path: &str) -> StorageResult<Vec<String>> {
        let names = self.children(path)?;
        if names.is_empty() && !path.is_empty() {
            return Err(StorageError::NotFound {
                path: self.display(path),
            });
        }
        Ok(names)
    }

    fn mkdir(&self, path: &str) -> StorageResult<()> {
        // Object stores have no folders; one appears with its first object.
        if self.isfile(path)? {
            return Err(StorageError::Invalid {
                path: self.display(path),
                message: "is a file".into(),
            });
        }
        Ok(())
    }

    fn isdir(&self, path: &str) -> StorageResult<bool> {
        if path.is_empty() {
            return Ok(true);
        }
        let folder = self.folder(path);
        self.block(async {
            let mut listing = self.store.list(folder.as_ref());
            listing.next().await.transpose()
        })
        .map(|first| first.is_some())
        .map_err(|e| self.error(path, e))
    }

    fn isfile(&self, path: &str) -> StorageResult<bool> {
        if path.is_empty() {
            return Ok(false);
        }
        match self.block(self.store.head(&self.object(path))) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error(path, e)),
        }
    }

    fn read_many(&self, paths: &[String]) -> Vec<StorageResult<Vec<u8>>> {
        self.block(
            futures::stream::iter(paths.iter().map(|path| {
                let object = self.object(path);
                async move {
                    let got = async {
                        let got = self.store.get(&object).await?;
                        got.bytes().await
                    }
                    .await;
                    got.map(|b| b.to_vec()).map_err(|e| self.error(path, e))
                }
            }))
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>(),
        )
    }

    fn list_files(&self, path: &str) -> Option<StorageResult<Vec<String>>> {
        let folder = self.folder(path);
        let base = folder.as_ref().map(|f| format!("{}/", f.as_ref()));
        let listed = self
            .block(self.store.list(folder.as_ref()).try_collect::<Vec<_>>())
            .map_err(|e| self.error(path, e));
        Some(listed.map(|metas| {
            metas
                .into_iter()
                .filter_map(|m| {
                    let full = m.location.as_ref();
                    let rest = match &base {
                        Some(b) => full.strip_prefix(b.as_str())?,
                        None => full,
                    };
                    Some(rest.split('/').map(decode).collect::<Vec<_>>().join("/"))
                })
                .collect()
        }))
    }

    fn display(&self, path: &str) -> String {
        if path.is_empty() {
            self.url.clone()
        } else {
            format!("{}/{path}", self.url)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> ObjectStorage {
        ObjectStorage::with_store(
            Arc::new(object_store::memory::InMemory::new()),
            "memory://bucket/root",
            "root",
        )
    }

    #[test]
    fn files_and_folders_over_prefixes() {
        let s = memory();
        s.write("runs/a/x.txt", b"1").unwrap();
        s.write("runs/a/sub/y.txt", b"2").unwrap();
        assert_eq!(s.read("runs/a/x.txt").unwrap(), b"1");
        assert_eq!(s.ls("runs/a").unwrap(), vec!["sub", "x.txt"]);
        assert_eq!(s.ls("").unwrap(), vec!["runs"]);
        assert!(s.isdir("runs").unwrap() && !s.isfile("runs").unwrap());
        assert!(matches!(s.ls("nope"), Err(StorageError::NotFound { .. })));
        let mut all = s.list_files("runs").unwrap().unwrap();
        all.sort();
        assert_eq!(all, vec!["a/sub/y.txt", "a/x.txt"]);
        s.cp("runs/a/x.txt", "runs/b.txt").unwrap();
        let many = s.read_many(&["runs/b.txt".into(), "runs/none".into()]);
        assert_eq!(many[0].as_ref().unwrap(), b"1");
        assert!(matches!(many[1], Err(StorageError::NotFound { .. })));
        assert!(s.rm("runs/a", false).is_err());
        s.rm("runs/a", true).unwrap();
        assert!(!s.isdir("runs/a").unwrap());
        assert_eq!(s.display("runs/b.txt"), "memory://bucket/root/runs/b.txt");
    }

    #[test]
    fn odd_names_stay_under_the_prefix() {
        let s = memory();
        // Already-normalised keys can still hold characters an object store
        // treats specially; they are encoded inside their own part.
        for key in ["%2e%2e/x", "a%2Fb", "sp ace", "..%2fy"] {
            s.write(key, b"v").unwrap();
            assert!(s.object(key).as_ref().starts_with("root/"), "{key}");
            assert_eq!(s.read(key).unwrap(), b"v", "{key}");
        }
        let mut names = s.ls("").unwrap();
        names.sort();
        assert_eq!(names, vec!["%2e%2e", "..%2fy", "a%2Fb", "sp ace"]);
    }
}
