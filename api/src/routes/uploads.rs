use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;

use crate::dto::UploadCreated;
use crate::error::{ApiError, Problem};
use crate::extract::AuthUser;
use crate::state::AppState;

const ACCEPTED_TYPES: &[&str] = &[
    "application/gzip",
    "application/x-gzip",
    "application/x-tar+gzip",
    "application/zip",
    "application/x-zip-compressed",
    "application/octet-stream",
];

/// Uploads a source archive (`.tar.gz` or `.zip`, sent as the raw body) to analyse with
/// `source: {uploadId}`. Every entry is checked first: absolute paths, `..`, links that point
/// outside, special files, and archives that expand past the bounds are refused with 400.
#[utoipa::path(post, path = "/api/insight/uploads", tag = "analyses",
    request_body(content = Vec<u8>, content_type = "application/gzip",
        description = "The archive itself; also application/zip or application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 201, body = UploadCreated), (status = "4XX", body = Problem)))]
pub async fn upload_archive(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<UploadCreated>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !content_type
        .as_deref()
        .is_some_and(|kind| ACCEPTED_TYPES.contains(&kind))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the archive as application/gzip, application/zip or application/octet-stream",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_field("file", "the archive is empty"));
    }
    let receipt = state.uploads.store(user.user_id, body.to_vec()).await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadCreated {
            success: true,
            upload_id: receipt.upload_id,
            format: receipt.format,
            size_bytes: receipt.size_bytes,
            files: receipt.files,
            expanded_bytes: receipt.expanded_bytes,
        }),
    ))
}
