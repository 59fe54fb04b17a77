//! Pagination as `futures::Stream`s over the list operations.
