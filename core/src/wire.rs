//! Binary encoding of everything that leaves a device or is kept as a blob: postcard (serde),
//! with a size check before decoding so hostile input cannot make us allocate much.
//!
//! postcard decodes only from the bytes it is given (lengths are checked against the input), so
//! truncated or random input yields an error, never a panic.

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("input of {0} bytes is larger than the {1}-byte limit")]
    TooLarge(usize, usize),
    #[error("malformed input: {0}")]
    Malformed(String),
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own in-memory types into a Vec cannot fail.
    postcard::to_stdvec(value).unwrap_or_default()
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, Error> {
    if bytes.len() > limit {
        return Err(Error::TooLarge(bytes.len(), limit));
    }
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| Error::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(Error::Malformed(format!("{} trailing bytes", rest.len())));
    }
    Ok(value)
}
