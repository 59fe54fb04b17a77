//! Creating a one-time upload URL (`POST v2/direct_upload`).

use super::*;

/// Creates a one-time upload URL for a browser or device (`POST
/// /accounts/{account_id}/images/v2/direct_upload`): built by
/// [`V2DirectUploads::create`](crate::resources::V2DirectUploads::create).
///
/// Upload to the URL with [`crate::direct::UploadToUrl`] and wait for the
/// image with [`crate::direct::wait_for_upload`].
#[derive(Clone)]
#[must_use = "a request does nothing until it is sent with `.send().await`"]
pub struct CreateUploadUrl<'a> {
    client: &'a Client,
    id: Option<String>,
    creator: Option<String>,
    expiry: Option<DateTime<Utc>>,
    metadata: Option<Metadata>,
    require_signed_urls: Option<bool>,
}

impl fmt::Debug for CreateUploadUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateUploadUrl")
            .field("id", &self.id)
            .field("creator", &self.creator)
            .field("expiry", &self.expiry)
            .field("require_signed_urls", &self.require_signed_urls)
            .finish_non_exhaustive()
    }
}

/// `client.v2().direct_uploads().create()` returns this builder.
impl crate::runtime::Handwritten for crate::resources::handwritten::V2DirectUploadsCreate {
    type Builder<'a> = CreateUploadUrl<'a>;
    fn builder(client: &Client) -> CreateUploadUrl<'_> {
        CreateUploadUrl::new(client)
    }
}

impl<'a> CreateUploadUrl<'a> {
    /// A new direct upload on `client`; public as `client.v2().direct_uploads().create()`.
    pub(crate) fn new(client: &'a Client) -> Self {
        CreateUploadUrl {
            client,
            id: None,
            creator: None,
            expiry: None,
            metadata: None,
            require_signed_urls: None,
        }
    }

    /// A custom id for the future image.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Your internal user id for the image's creator.
    pub fn creator(mut self, creator: impl Into<String>) -> Self {
        self.creator = Some(creator.into());
        self
    }

    /// When the upload URL stops working: between 2 minutes and 6 hours from now
    /// (Cloudflare's default is 30 minutes).
    pub fn expiry(mut self, expiry: DateTime<Utc>) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Key-value metadata: anything that serializes to a JSON object, at most
    /// 1,024 bytes as JSON (see [`ImageUpload::metadata`]).
    pub fn metadata(mut self, metadata: impl Serialize) -> Self {
        self.metadata = Some(Metadata::new(&metadata));
        self
    }

    /// Whether the image will be served only through signed URLs.
    pub fn require_signed_urls(mut self, value: bool) -> Self {
        self.require_signed_urls = Some(value);
        self
    }

    /// Validates, creates the draft image, and returns its id and `uploadURL`.
    pub async fn send(self) -> Result<types::ImageDirectUploadResponseV2Result> {
        validate_id_and_signing(self.id.as_deref(), self.require_signed_urls)?;
        if let Some(expiry) = self.expiry {
            validate_expiry(expiry, Utc::now())?;
        }
        let metadata = self.metadata.as_ref().map(Metadata::field).transpose()?;
        let mut fields = TextFields::of([
            ("id", self.id),
            ("creator", self.creator),
            (
                "expiry",
                self.expiry
                    .map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            ),
            ("metadata", metadata),
            (
                "requireSignedURLs",
                self.require_signed_urls.map(|v| v.to_string()),
            ),
        ]);
        if fields.is_empty() {
            // Cloudflare rejects a multipart body with no fields; this is its default.
            fields.push("requireSignedURLs", "false");
        }
        let fields = Arc::new(fields);
        let factory: FormFactory = Arc::new(move || {
            let form = fields.add_to(Form::new());
            Box::pin(async move { Ok(form) })
        });
        let mut operation = Operation::new(
            crate::resources::OperationId::V2DirectUploadsCreate,
            Method::POST,
            "/accounts/{account_id}/images/v2/direct_upload",
        );
        operation.multipart(factory, Replay::Rebuild, false);
        self.client.execute(operation).await
    }
}
