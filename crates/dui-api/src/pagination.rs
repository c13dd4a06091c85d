//! Opaque cursors and bounded page sizes for every list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dui_domain::pagination::{MAX_PAGE_SIZE, Page, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::problem::ApiError;

/// `?cursor=...&limit=...` of list endpoints.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// The `next_cursor` of the previous page, unchanged; absent for the first page.
    #[param(pattern = "^A[Q-Za-f][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048]$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

impl ListParams {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok(PageRequest::new(after, self.limit)?)
    }
}

/// Cursors are versioned so their content can change without breaking clients mid-listing.
/// The cursor's first byte. The documented pattern of `cursor` follows from it (base64url of
/// this byte and 16 more: `A`, then one of `Q`–`f`, and a last character that carries no
/// trailing bits); a test checks that the two agree.
const CURSOR_VERSION: u8 = 1;

pub fn encode_cursor(after: Uuid) -> String {
    let mut bytes = Vec::with_capacity(17);
    bytes.push(CURSOR_VERSION);
    bytes.extend_from_slice(after.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    let invalid =
        || ApiError::BadRequest("The cursor is invalid: pass the next_cursor of a previous page unchanged.".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    match bytes.split_first() {
        Some((&CURSOR_VERSION, rest)) if rest.len() == 16 => Uuid::from_slice(rest).map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}

/// A page of items and the cursor of the next one (absent on the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for PageBody<T> {
    fn from(page: Page<T>) -> Self {
        Self { items: page.items, next_cursor: page.next_after.map(encode_cursor) }
    }
}

const _: () = assert!(MAX_PAGE_SIZE == 200, "keep the documented bound in ListParams in step");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cursor_has_the_documented_form() {
        let shape = |cursor: &str| {
            let bytes = cursor.as_bytes();
            cursor.len() == 23
                && bytes[0] == b'A'
                && matches!(bytes[1], b'Q'..=b'Z' | b'a'..=b'f')
                && b"AEIMQUYcgkosw048".contains(&bytes[22])
                && cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        for _ in 0..1000 {
            let cursor = encode_cursor(Uuid::new_v4());
            assert!(shape(&cursor), "{cursor}");
            assert!(decode_cursor(&cursor).is_ok());
        }
        // Any string of that form is a cursor the server reads.
        for cursor in ["AQAAAAAAAAAAAAAAAAAAAAA", "Af_________________-_w", "AfAAAAAAAAAAAAAAAAAAAA8"] {
            if shape(cursor) {
                assert!(decode_cursor(cursor).is_ok(), "{cursor}");
            }
        }
        assert!(decode_cursor("AQAAAAAAAAAAAAAAAAAAAAA").is_ok());
        assert!(decode_cursor("Af__________________-_w").is_ok());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        for bad in ["", "abc", "!!!", &URL_SAFE_NO_PAD.encode([2u8; 17]), &URL_SAFE_NO_PAD.encode([1u8; 5])] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
