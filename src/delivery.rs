//! Delivery URLs and signed URLs (`imagedelivery.net`), with a verifier.
