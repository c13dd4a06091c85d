//! Keyset pagination. Lists are ordered by id (UUIDv7, so by creation time); a page ends with the
//! id to continue after. The API wraps that id in an opaque cursor.

use uuid::Uuid;

use crate::validation::ValidationErrors;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: u32,
}

impl PageRequest {
    pub fn new(after: Option<Uuid>, limit: Option<u32>) -> Result<Self, ValidationErrors> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(ValidationErrors::single("limit", format!("must be between 1 and {MAX_PAGE_SIZE}")));
        }
        Ok(Self { after, limit })
    }

    pub fn first(limit: u32) -> Self {
        Self { after: None, limit: limit.clamp(1, MAX_PAGE_SIZE) }
    }

    /// How many rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The id to continue after, when more items follow.
    pub next_after: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from `fetch_limit()` rows, given each row's key.
    pub fn from_rows(mut rows: Vec<T>, request: PageRequest, key: impl Fn(&T) -> Uuid) -> Self {
        let limit = request.limit as usize;
        let next_after = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(key)
        } else {
            None
        };
        Self { items: rows, next_after }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_after: self.next_after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageRequest::new(None, None).unwrap().limit, DEFAULT_PAGE_SIZE);
        assert!(PageRequest::new(None, Some(0)).is_err());
        assert!(PageRequest::new(None, Some(MAX_PAGE_SIZE + 1)).is_err());
        assert_eq!(PageRequest::new(None, Some(MAX_PAGE_SIZE)).unwrap().fetch_limit(), 201);
    }

    #[test]
    fn a_page_knows_whether_more_follow() {
        let request = PageRequest::new(None, Some(2)).unwrap();
        let ids: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
        let page = Page::from_rows(ids.clone(), request, |id| *id);
        assert_eq!(page.items, ids[..2]);
        assert_eq!(page.next_after, Some(ids[1]));
        let last = Page::from_rows(ids[..2].to_vec(), request, |id| *id);
        assert_eq!(last.next_after, None);
    }
}
