//! `model import`: a PyTorch state dict of a known architecture becomes a checkpoint of ours
//! (`.safetensors` + sidecar naming the architecture, input size and normalisation), so every
//! part of the app that reads checkpoints reads it; and `load_network`, which reads a checkpoint
//! of any architecture back.

use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use super::torch_file::{StateDictError, read_state_dict};
use super::{Architecture, Network, build_network};
use crate::engine::checkpoint::{
    CheckpointError, CheckpointMeta, InputSpec, checkpoint_from_parts, parse_safetensors, read_file, resolve_meta, save_network,
};
use crate::engine::fsutil::sha256_hex;

/// The 1000 ImageNet classes in the order of the ImageNet networks' outputs (public facts; the
/// list torchvision ships).
const IMAGENET_CLASSES: &str = include_str!("../../../assets/imagenet_classes.txt");

pub fn imagenet_class_names() -> Vec<String> {
    IMAGENET_CLASSES.lines().map(str::to_string).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    StateDict(#[from] StateDictError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: {reason}")]
    ClassNames { path: PathBuf, reason: String },
    #[error(
        "{path}: its tensors are not those of a network this app knows (EfficientNet-Lite0 in the efficientnet_pytorch naming, ResNet-18 or ResNet-50 in torchvision's); its first is '{first}'"
    )]
    Unrecognised { path: PathBuf, first: String },
    #[error("{path} has no '{name}', the classifier of a {architecture} network; {looks_like}")]
    NoClassifier { path: PathBuf, name: String, architecture: &'static str, looks_like: String },
}

/// What an import wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportSummary {
    pub architecture: &'static str,
    pub classes: usize,
    pub tensors: usize,
    pub out: PathBuf,
    pub fingerprint: String,
}

/// Reads `file` as a state dict of `architecture`, checks every tensor against it, and writes
/// the checkpoint `out` (+ sidecar). Class names come from `classes` (one per line), else the
/// ImageNet names for a 1000-class network, else "class N".
pub fn import_network(file: &Path, architecture: Architecture, classes: Option<&Path>, out: &Path) -> Result<ImportSummary, ImportError> {
    import_tensors(file, read_state_dict(file)?, architecture, classes, out)
}

/// The window's import: the architecture is the one the tensor names say, and the checkpoint
/// goes into `out_dir` as `<file name>-<architecture>.safetensors`.
pub fn import_network_recognised(file: &Path, out_dir: &Path) -> Result<ImportSummary, ImportError> {
    let tensors = read_state_dict(file)?;
    let architecture = guess_architecture(tensors.iter().map(|(name, _)| name.as_str()))
        .filter(|arch| Architecture::IMPORTABLE.contains(arch))
        .ok_or_else(|| ImportError::Unrecognised {
            path: file.to_path_buf(),
            first: tensors.first().map(|(n, _)| n.clone()).unwrap_or_default(),
        })?;
    let stem = file.file_stem().map_or_else(|| "network".to_string(), |stem| stem.to_string_lossy().into_owned());
    let out = out_dir.join(format!("{stem}-{}.safetensors", architecture.name()));
    import_tensors(file, tensors, architecture, None, &out)
}

fn import_tensors(
    file: &Path,
    tensors: Vec<(String, Tensor)>,
    architecture: Architecture,
    classes: Option<&Path>,
    out: &Path,
) -> Result<ImportSummary, ImportError> {
    let classifier = classifier_weight(architecture);
    let num_classes =
        tensors.iter().find(|(name, _)| name == classifier).map(|(_, t)| t.size()).and_then(|size| size.first().copied()).ok_or_else(
            || ImportError::NoClassifier {
                path: file.to_path_buf(),
                name: classifier.to_string(),
                architecture: architecture.display_name(),
                looks_like: match guess_architecture(tensors.iter().map(|(name, _)| name.as_str())) {
                    Some(guess) => format!("its tensors are those of {} (--arch {})", guess.display_name(), guess.name()),
                    None => format!("its first tensor is '{}'", tensors.first().map_or("", |(name, _)| name.as_str())),
                },
            },
        )?;
    let class_names = match classes {
        Some(list) => read_class_names(list, num_classes)?,
        None if num_classes == 1000 => imagenet_class_names(),
        None => (0..num_classes).map(|index| format!("class {index}")).collect(),
    };
    let net = build_network(architecture, num_classes, Device::Cpu)
        .ok_or_else(|| CheckpointError::WrongArchitecture { path: file.to_path_buf(), found: architecture.name().to_string() })?;
    copy_state_dict(net.as_ref(), tensors, file)?;
    let meta = network_meta(net.as_ref(), class_names);
    let fingerprint = save_network(net.var_store(), &meta, out)?;
    Ok(ImportSummary {
        architecture: architecture.name(),
        classes: num_classes as usize,
        tensors: net.var_store().variables().len(),
        out: out.to_path_buf(),
        fingerprint,
    })
}

/// The sidecar of a network of `net`'s architecture, untrained here.
pub fn network_meta(net: &dyn Network, class_names: Vec<String>) -> CheckpointMeta {
    let spec = net.spec();
    let mut meta = CheckpointMeta::new(class_names);
    meta.architecture = spec.architecture.name().to_string();
    let n = spec.normalisation;
    meta.input = InputSpec {
        width: spec.input_size,
        height: spec.input_size,
        channels: 3,
        preprocessing: format!(
            "decode, apply EXIF orientation, composite alpha on white, RGB, resize to {s}x{s} ignoring aspect (triangle filter; a picture \
             already {s}x{s} is used as it is), scale to [0,1], subtract mean {:?}, divide by std {:?}",
            n.mean,
            n.std,
            s = spec.input_size
        ),
        normalisation: Some(n),
    };
    meta
}

/// The architecture a state dict's tensor names say it is, where they are distinctive.
pub fn guess_architecture<'a>(names: impl Iterator<Item = &'a str>) -> Option<Architecture> {
    let names: std::collections::HashSet<&str> = names.collect();
    if names.contains("_conv_stem.weight")
        && names.contains("_blocks.15._project_conv.weight")
        && !names.contains("_blocks.16._project_conv.weight")
    {
        Some(Architecture::EfficientNetLite0)
    } else if names.contains("layer4.2.conv3.weight") && names.contains("layer3.5.conv3.weight") && !names.contains("layer3.6.conv3.weight")
    {
        Some(Architecture::ResNet50)
    } else if names.contains("layer4.1.conv2.weight")
        && !names.contains("layer4.1.conv3.weight")
        && !names.contains("layer1.2.conv1.weight")
    {
        Some(Architecture::ResNet18)
    } else if names.contains("fc3.weight") && names.contains("conv4.weight") {
        Some(Architecture::PaperCnn)
    } else {
        None
    }
}

/// The weight of `architecture`'s last layer, whose rows are the classes.
fn classifier_weight(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::EfficientNetLite0 => "_fc.weight",
        Architecture::PaperCnn => "fc3.weight",
        Architecture::ResNet18 | Architecture::ResNet50 => "fc.weight",
    }
}

fn read_class_names(path: &Path, expected: i64) -> Result<Vec<String>, ImportError> {
    let bad = |reason: String| ImportError::ClassNames { path: path.to_path_buf(), reason };
    let text = crate::engine::fsutil::read_user_text(path, 16 << 20).map_err(|error| bad(error.to_string()))?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
    if names.len() as i64 != expected {
        return Err(bad(format!("lists {} class names, but the network has {expected} outputs", names.len())));
    }
    Ok(names)
}

/// Copies `tensors` into `net`'s variables: every variable must be there with its shape, and
/// nothing else may be (bar batch norm's counters, which inference does not use).
pub fn copy_state_dict(net: &dyn Network, tensors: Vec<(String, Tensor)>, path: &Path) -> Result<(), CheckpointError> {
    let path_buf = || path.to_path_buf();
    let mut variables = net.var_store().variables();
    let mut found = std::collections::HashMap::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if variables.contains_key(&name) {
            found.insert(name, tensor);
        } else if !name.ends_with("num_batches_tracked") {
            return Err(CheckpointError::UnexpectedTensor { path: path_buf(), name });
        }
    }
    let mut names: Vec<String> = variables.keys().cloned().collect();
    names.sort();
    for name in &names {
        let tensor = found.get(name).ok_or_else(|| CheckpointError::MissingTensor { path: path_buf(), name: name.clone() })?;
        let expected = variables[name].size();
        if tensor.size() != expected {
            return Err(CheckpointError::WrongShape { path: path_buf(), name: name.clone(), found: tensor.size(), expected });
        }
        if tensor.kind() != Kind::Float {
            return Err(CheckpointError::WrongDtype { path: path_buf(), name: name.clone(), found: format!("{:?}", tensor.kind()) });
        }
    }
    tch::no_grad(|| {
        for name in &names {
            let variable = variables.get_mut(name).expect("listed from these variables");
            variable.f_copy_(&found[name]).map_err(|source| CheckpointError::Torch { path: path_buf(), source })?;
        }
        Ok(())
    })
}

/// A loaded network of any architecture, its metadata and where it came from.
pub struct LoadedNetwork {
    pub net: Box<dyn Network>,
    pub meta: CheckpointMeta,
    pub path: PathBuf,
    pub fingerprint: String,
}

/// Loads a checkpoint of any architecture the app knows: the paper's CNN through
/// [`load_checkpoint`], the others built from their sidecar's architecture and checked tensor by
/// tensor.
pub fn load_network(path: &Path, device: Device) -> Result<LoadedNetwork, CheckpointError> {
    // One read of the weights serves the metadata, the tensors and the fingerprint.
    let bytes = read_file(path)?;
    let meta = resolve_meta(path, &bytes)?;
    let architecture = Architecture::from_name(&meta.architecture)
        .ok_or_else(|| CheckpointError::WrongArchitecture { path: path.to_path_buf(), found: meta.architecture.clone() })?;
    if architecture == Architecture::PaperCnn {
        let checkpoint = checkpoint_from_parts(path, &bytes, meta, device)?;
        return Ok(LoadedNetwork {
            net: Box::new(checkpoint.net),
            meta: checkpoint.meta,
            path: checkpoint.path,
            fingerprint: checkpoint.fingerprint,
        });
    }
    if meta.class_names.is_empty() {
        return Err(CheckpointError::NoClasses { path: path.to_path_buf() });
    }
    let tensors = {
        let file = parse_safetensors(&bytes, path)?;
        // The class count is checked before anything is built: a sidecar must not make a huge head.
        let classifier = file.names().into_iter().find(|name| name.ends_with("fc.weight")).and_then(|name| file.tensor(name).ok());
        let in_weights = classifier.map_or(0, |view| view.shape().first().copied().unwrap_or(0) as i64);
        if in_weights != meta.class_names.len() as i64 {
            return Err(CheckpointError::ClassCountMismatch { path: path.to_path_buf(), in_weights, in_sidecar: meta.class_names.len() });
        }
        super::torch_file::safetensors_tensors(&file, path)
            .map_err(|error| CheckpointError::NotSafetensors { path: path.to_path_buf(), reason: error.to_string() })?
    };
    let net = build_network(architecture, meta.class_names.len() as i64, device)
        .ok_or_else(|| CheckpointError::WrongArchitecture { path: path.to_path_buf(), found: meta.architecture.clone() })?;
    copy_state_dict(net.as_ref(), tensors, path)?;
    Ok(LoadedNetwork { net, meta, path: path.to_path_buf(), fingerprint: sha256_hex(&bytes) })
}
