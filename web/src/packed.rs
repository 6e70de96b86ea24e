//! Arrays of plain numbers in a message between workers as one typed array of their bytes:
//! serde would hand a JavaScript array to the message number by number (and buffer each value
//! inside an internally tagged enum), which costs far more than the work on them.

use engine::features::Features;
use engine::raster::Window;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Plain numbers (`f32`, `f64`, `u8`) as the bytes of their values (a `Uint8Array` in a
/// message; an array of byte values in JSON). Both ends are WebAssembly, so little-endian.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed<T>(pub Vec<T>);

impl<T: bytemuck::Pod> Serialize for Packed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytemuck::cast_slice(&self.0))
    }
}

impl<'de, T: bytemuck::Pod> Deserialize<'de> for Packed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        if bytes.len() % size_of::<T>() != 0 {
            return Err(serde::de::Error::custom(format!(
                "{} bytes are not a whole number of {}-byte values",
                bytes.len(),
                size_of::<T>()
            )));
        }
        Ok(Self(bytemuck::pod_collect_to_vec(&bytes)))
    }
}

/// [`Features`] with their values and validity packed ([`Packed`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackedFeatures {
    blocks: Window,
    dims: usize,
    values: Packed<f32>,
    valid: Packed<u8>,
}

impl From<Features> for PackedFeatures {
    fn from(f: Features) -> Self {
        Self {
            blocks: f.blocks,
            dims: f.dims,
            values: Packed(f.values),
            valid: Packed(f.valid.into_iter().map(u8::from).collect()),
        }
    }
}

impl From<PackedFeatures> for Features {
    fn from(f: PackedFeatures) -> Self {
        Self {
            blocks: f.blocks,
            dims: f.dims,
            values: f.values.0,
            valid: f.valid.0.into_iter().map(|v| v != 0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_numbers_and_features_come_back_as_they_were() {
        let features = Features {
            blocks: Window::new(3, 4, 2, 1),
            dims: 2,
            values: vec![0.5, -1.25, f32::MAX, f32::MIN_POSITIVE],
            valid: vec![true, false],
        };
        let packed = PackedFeatures::from(features.clone());
        let json = serde_json::to_string(&packed).unwrap();
        let back: PackedFeatures = serde_json::from_str(&json).unwrap();
        assert_eq!(Features::from(back), features);
        let values = Packed(vec![1.0f64, -0.1, 1e300]);
        let back: Packed<f64> =
            serde_json::from_str(&serde_json::to_string(&values).unwrap()).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn a_packed_array_of_the_wrong_length_is_refused() {
        let error = serde_json::from_str::<Packed<f32>>("[1, 2, 3]").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("3 bytes are not a whole number of 4-byte values"),
            "{error}"
        );
    }
}
