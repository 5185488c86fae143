//! Reads the state dicts people have: the zip archive `torch.save` writes since PyTorch 1.6, the
//! older pickle-stream format, and `.safetensors`. Pickles are interpreted by [`super::pickle`],
//! which builds tensors and containers and runs nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use super::pickle::{PickleError, StorageRef, TensorRef, Value, read_pickle, storage_from_persistent_id};

/// State dicts larger than this are refused (ResNet-50 is about 100 MB).
pub const MAX_STATE_DICT_BYTES: u64 = 2 << 30;
/// The number `torch.save`'s legacy format starts with, 0x1950a86a20f9469cfc6c, little-endian.
const LEGACY_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Why a state dict could not be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum StateDictError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a PyTorch state dict or safetensors file: {reason}")]
    NotAStateDict { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Pickle { path: PathBuf, source: PickleError },
    #[error("{path}: tensor '{name}': {reason}")]
    BadTensor { path: PathBuf, name: String, reason: String },
}

/// The named tensors of a state dict file, in the file's order. Floating-point tensors become
/// 32-bit floats; integer ones (batch-norm counters) keep their type.
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, Tensor)>, StateDictError> {
    let bytes = crate::engine::fsutil::read_user_file(path, MAX_STATE_DICT_BYTES)
        .map_err(|source| StateDictError::Read { path: path.to_path_buf(), source })?;
    parse_state_dict(&bytes, path)
}

/// [`read_state_dict`] on bytes already read; `path` names them in messages.
pub fn parse_state_dict(bytes: &[u8], path: &Path) -> Result<Vec<(String, Tensor)>, StateDictError> {
    let not = |reason: &str| StateDictError::NotAStateDict { path: path.to_path_buf(), reason: reason.to_string() };
    let tensors = if bytes.starts_with(b"PK\x03\x04") {
        read_zip(path, bytes)?
    } else if bytes.first() == Some(&0x80) {
        read_legacy(path, bytes)?
    } else if looks_like_safetensors(bytes) {
        read_safetensors(path, bytes)?
    } else {
        return Err(not("it starts with neither a zip header, a pickle nor a safetensors header"));
    };
    if tensors.is_empty() {
        return Err(not("it holds no tensors"));
    }
    Ok(strip_common_prefix(tensors))
}

fn looks_like_safetensors(bytes: &[u8]) -> bool {
    bytes.len() > 9 && {
        let len = u64::from_le_bytes(bytes[..8].try_into().expect("eight bytes"));
        len < bytes.len() as u64 && bytes[8] == b'{'
    }
}

/// `module.` (a network wrapped for several GPUs) in front of every name is dropped.
fn strip_common_prefix(tensors: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    if tensors.iter().all(|(name, _)| name.starts_with("module.")) {
        return tensors.into_iter().map(|(name, t)| (name["module.".len()..].to_string(), t)).collect();
    }
    tensors
}

fn pickle_error(path: &Path) -> impl Fn(PickleError) -> StateDictError + '_ {
    move |source| StateDictError::Pickle { path: path.to_path_buf(), source }
}

fn read_zip(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>, StateDictError> {
    let not = |reason: String| StateDictError::NotAStateDict { path: path.to_path_buf(), reason };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|error| not(format!("a damaged zip archive ({error})")))?;
    let pickle_name = archive
        .file_names()
        .find(|name| name.ends_with("/data.pkl") || *name == "data.pkl")
        .map(str::to_string)
        .ok_or_else(|| not("a zip archive without data.pkl".to_string()))?;
    let prefix = pickle_name.strip_suffix("data.pkl").expect("found by that suffix").to_string();
    let mut read_entry = |name: &str| -> Result<Vec<u8>, StateDictError> {
        let mut entry = archive.by_name(name).map_err(|error| not(format!("{name}: {error}")))?;
        let mut data = Vec::new();
        // The size the entry claims is not trusted: the archive itself bounds what it may hold.
        (&mut entry).take(bytes.len() as u64 + 1).read_to_end(&mut data).map_err(|error| not(format!("{name}: {error}")))?;
        if data.len() > bytes.len() {
            return Err(not(format!("{name} unpacks to more than the archive could hold")));
        }
        Ok(data)
    };
    if let Ok(order) = read_entry(&format!("{prefix}byteorder"))
        && order.trim_ascii() == b"big"
    {
        return Err(not("it was written on a big-endian machine".to_string()));
    }
    let pickle = read_entry(&pickle_name)?;
    let (value, _) = read_pickle(&pickle, &storage_from_persistent_id).map_err(pickle_error(path))?;
    let mut tensors = Vec::new();
    for (name, tensor) in tensor_entries(path, value)? {
        let data = read_entry(&format!("{prefix}data/{}", tensor.storage.key))?;
        tensors.push((name.clone(), build_tensor(path, &name, &tensor, &data)?));
    }
    Ok(tensors)
}

fn read_legacy(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>, StateDictError> {
    let not = |reason: &str| StateDictError::NotAStateDict { path: path.to_path_buf(), reason: reason.to_string() };
    let plain = |_: Value| Err(PickleError::Malformed("a persistent id in a header"));
    let mut at = 0;
    let mut next = |persistent: &dyn Fn(Value) -> Result<Value, PickleError>| -> Result<Value, StateDictError> {
        let (value, used) = read_pickle(&bytes[at..], persistent).map_err(pickle_error(path))?;
        at += used;
        Ok(value)
    };
    if next(&plain)? != Value::BigInt(LEGACY_MAGIC.to_vec()) {
        return Err(not("a pickle, but not one torch.save wrote (its magic number is missing)"));
    }
    next(&plain)?; // protocol version
    next(&plain)?; // the writer's type sizes; storages state their own element types
    let value = next(&storage_from_persistent_id)?;
    let Value::List(keys) = next(&plain)? else {
        return Err(not("the list of storages is missing"));
    };
    // Each storage in the listed order: its element count (8 bytes), then its elements.
    let mut storages = std::collections::HashMap::new();
    let mut offset = at;
    let entries = tensor_entries(path, value)?;
    for key in keys {
        let Value::Str(key) = key else { return Err(not("a storage key that is not text")) };
        let header = bytes.get(offset..offset + 8).ok_or_else(|| not("the file ends inside its storages"))?;
        let numel = u64::from_le_bytes(header.try_into().expect("eight bytes"));
        let element = entries
            .iter()
            .find(|(_, t)| t.storage.key == key)
            .map_or(Some(1), |(_, t)| element_size(&t.storage.dtype))
            .ok_or_else(|| not("a storage of an unknown type"))?;
        let len = numel
            .checked_mul(element as u64)
            .filter(|&len| len <= (bytes.len() - offset - 8) as u64)
            .ok_or_else(|| not("the file ends inside its storages"))? as usize;
        storages.insert(key, (offset + 8, len));
        offset += 8 + len;
    }
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, tensor) in entries {
        let (start, len) = *storages.get(&tensor.storage.key).ok_or_else(|| StateDictError::BadTensor {
            path: path.to_path_buf(),
            name: name.clone(),
            reason: "its storage is not in the file".to_string(),
        })?;
        tensors.push((name.clone(), build_tensor(path, &name, &tensor, &bytes[start..start + len])?));
    }
    Ok(tensors)
}

/// The (name, tensor) entries of the state dict in `value`: the dict itself, or the one a
/// training checkpoint keeps under "state_dict", "model" or "model_state_dict". Entries that are
/// not tensors are left out.
fn tensor_entries(path: &Path, value: Value) -> Result<Vec<(String, TensorRef)>, StateDictError> {
    let not = |reason: &str| StateDictError::NotAStateDict { path: path.to_path_buf(), reason: reason.to_string() };
    let Value::Dict(pairs) = value else { return Err(not("it holds something other than a dict of tensors")) };
    let has_tensors = pairs.iter().any(|(_, v)| matches!(v, Value::Tensor(_)));
    if !has_tensors {
        for wrapper in ["state_dict", "model_state_dict", "model", "net"] {
            if let Some((_, inner @ Value::Dict(_))) = pairs.iter().find(|(k, _)| *k == Value::Str(wrapper.to_string())) {
                return tensor_entries(path, inner.clone());
            }
        }
        return Err(not("a dict without tensors"));
    }
    Ok(pairs
        .into_iter()
        .filter_map(|(key, value)| match (key, value) {
            (Value::Str(name), Value::Tensor(tensor)) => Some((name, tensor)),
            _ => None,
        })
        .collect())
}

fn element_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "DoubleStorage" | "LongStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" => 1,
        _ => return None,
    })
}

fn kind_of(dtype: &str) -> Option<Kind> {
    Some(match dtype {
        "DoubleStorage" => Kind::Double,
        "FloatStorage" => Kind::Float,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ShortStorage" => Kind::Int16,
        "CharStorage" => Kind::Int8,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        _ => return None,
    })
}

/// A tensor from its view of `data`: every index it reaches is checked to lie inside.
fn build_tensor(path: &Path, name: &str, view: &TensorRef, data: &[u8]) -> Result<Tensor, StateDictError> {
    let bad = |reason: String| StateDictError::BadTensor { path: path.to_path_buf(), name: name.to_string(), reason };
    let StorageRef { dtype, .. } = &view.storage;
    let (kind, element) =
        kind_of(dtype).zip(element_size(dtype)).ok_or_else(|| bad(format!("stored as {dtype}, which is not a number type")))?;
    let numel = (data.len() / element) as i64;
    if view.offset < 0 || view.size.iter().any(|&d| d < 0) || view.stride.iter().any(|&s| s < 0) {
        return Err(bad("a negative size, stride or offset".to_string()));
    }
    let elements = view.size.iter().try_fold(1i64, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad("its size overflows".to_string()))?;
    if elements > 0 {
        let last = view
            .size
            .iter()
            .zip(&view.stride)
            .try_fold(view.offset, |acc, (&d, &s)| (d - 1).checked_mul(s).and_then(|step| acc.checked_add(step)))
            .ok_or_else(|| bad("its strides overflow".to_string()))?;
        if last >= numel {
            return Err(bad(format!("it reaches element {last} of a storage of {numel}")));
        }
    }
    let storage = Tensor::f_from_data_size(&data[..numel as usize * element], &[numel], kind).map_err(|error| bad(error.to_string()))?;
    let tensor =
        storage.f_as_strided(view.size.as_slice(), view.stride.as_slice(), Some(view.offset)).map_err(|error| bad(error.to_string()))?;
    Ok(as_float_if_floating(tensor.contiguous()))
}

fn as_float_if_floating(tensor: Tensor) -> Tensor {
    match tensor.kind() {
        Kind::Double | Kind::Half | Kind::BFloat16 => tensor.to_kind(Kind::Float),
        _ => tensor,
    }
}

fn read_safetensors(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>, StateDictError> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|error| StateDictError::NotAStateDict {
        path: path.to_path_buf(),
        reason: format!("a damaged safetensors file ({error:?})"),
    })?;
    safetensors_tensors(&file, path)
}

/// Every tensor of a parsed safetensors file, by name.
pub fn safetensors_tensors(file: &safetensors::SafeTensors, path: &Path) -> Result<Vec<(String, Tensor)>, StateDictError> {
    use safetensors::tensor::Dtype;
    let mut names: Vec<String> = file.names().into_iter().cloned().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let bad = |reason: String| StateDictError::BadTensor { path: path.to_path_buf(), name: name.clone(), reason };
        let view = file.tensor(&name).map_err(|error| bad(format!("{error:?}")))?;
        let kind = match view.dtype() {
            Dtype::F64 => Kind::Double,
            Dtype::F32 => Kind::Float,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            Dtype::I64 => Kind::Int64,
            Dtype::I32 => Kind::Int,
            Dtype::U8 => Kind::Uint8,
            Dtype::BOOL => Kind::Bool,
            other => return Err(bad(format!("stored as {other:?}, which this app does not read"))),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let tensor = Tensor::f_from_data_size(view.data(), &shape, kind).map_err(|error| bad(error.to_string()))?;
        tensors.push((name, as_float_if_floating(tensor)));
    }
    Ok(tensors)
}
