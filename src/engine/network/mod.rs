//! Networks described by data rather than by an enum of one network's layers: an
//! [`Architecture`] names a family, a [`NetworkSpec`] lists its layers (kind, output shape,
//! stride and receptive field), and every network is a sequence of stages behind the [`Network`]
//! trait, so any layer's output, and the logits from any layer, come from one interface and
//! gradients from autograd.
//!
//! `torch_file` and `pickle` read PyTorch state dicts without running them; `import` turns one
//! into a checkpoint of ours.

pub mod efficientnet_lite;
pub mod guided;
pub mod import;
mod layers;
pub mod pickle;
pub mod resnet;
pub mod torch_file;

use tch::{Tensor, nn};

/// The name checkpoints of the paper's network record as their architecture.
pub const PAPER_CNN_NAME: &str = "zhou-guo-ma-2022-cnn7";
/// Side of the paper network's square input.
pub const PAPER_INPUT_SIZE: i64 = 100;

/// A family of networks this app can build, by the name its checkpoints record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// The paper's 7-layer CNN (the checkpoints' historical name).
    PaperCnn,
    EfficientNetLite0,
    ResNet18,
    ResNet50,
}

impl Architecture {
    pub const ALL: [Architecture; 4] =
        [Architecture::PaperCnn, Architecture::EfficientNetLite0, Architecture::ResNet18, Architecture::ResNet50];
    /// The architectures a PyTorch state dict can be imported as.
    pub const IMPORTABLE: [Architecture; 3] = [Architecture::EfficientNetLite0, Architecture::ResNet18, Architecture::ResNet50];

    /// The name checkpoints record in their sidecar's `architecture` field.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::PaperCnn => PAPER_CNN_NAME,
            Architecture::EfficientNetLite0 => "efficientnet-lite0",
            Architecture::ResNet18 => "resnet18",
            Architecture::ResNet50 => "resnet50",
        }
    }

    /// A name for people ("EfficientNet-Lite0").
    pub fn display_name(self) -> &'static str {
        match self {
            Architecture::PaperCnn => "paper CNN (7 layers)",
            Architecture::EfficientNetLite0 => "EfficientNet-Lite0",
            Architecture::ResNet18 => "ResNet-18",
            Architecture::ResNet50 => "ResNet-50",
        }
    }

    pub fn from_name(name: &str) -> Option<Architecture> {
        Architecture::ALL.into_iter().find(|arch| arch.name().eq_ignore_ascii_case(name))
    }

    /// Side of the square input the network was trained at.
    pub fn input_size(self) -> i64 {
        match self {
            Architecture::PaperCnn => PAPER_INPUT_SIZE,
            _ => 224,
        }
    }

    /// How pixels in [0, 1] become the network's input.
    pub fn normalisation(self) -> Normalisation {
        match self {
            Architecture::PaperCnn => Normalisation::IDENTITY,
            // (pixel - 127) / 128 on 0..255 pixels, as the TensorFlow Lite models were trained.
            Architecture::EfficientNetLite0 => Normalisation { mean: [127.0 / 255.0; 3], std: [128.0 / 255.0; 3] },
            Architecture::ResNet18 | Architecture::ResNet50 => Normalisation::IMAGENET,
        }
    }
}

/// Per-channel `(x - mean) / std` for pixels in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalisation {
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

impl Normalisation {
    pub const IDENTITY: Normalisation = Normalisation { mean: [0.0; 3], std: [1.0; 3] };
    /// torchvision's ImageNet statistics.
    pub const IMAGENET: Normalisation = Normalisation { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

    pub fn apply(&self, images: &Tensor) -> Tensor {
        if *self == Normalisation::IDENTITY {
            return images.shallow_clone();
        }
        let options = (images.kind(), images.device());
        let mean = Tensor::from_slice(&self.mean).to_kind(options.0).to_device(options.1).view([1, 3, 1, 1]);
        let std = Tensor::from_slice(&self.std).to_kind(options.0).to_device(options.1).view([1, 3, 1, 1]);
        (images - mean) / std
    }
}

/// What a layer's output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// A grid of channels `[C, H, W]`: feature maps, Grad-CAM and the atlas apply.
    Spatial,
    /// A vector of units `[C]` (pooled features, dense layers).
    Vector,
    /// The class scores before softmax.
    Logits,
}

/// One named layer: the output of one stage of the network.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerSpec {
    pub name: String,
    pub kind: LayerKind,
    /// Output shape for one image, without the batch dimension.
    pub shape: Vec<i64>,
    /// Input pixels between neighbouring output positions (spatial layers; 0 otherwise).
    pub stride: i64,
    /// Side of the input square one output position sees (spatial layers; 0 otherwise).
    pub receptive_field: i64,
}

impl LayerSpec {
    pub fn is_spatial(&self) -> bool {
        self.kind == LayerKind::Spatial
    }

    pub fn channels(&self) -> i64 {
        self.shape.first().copied().unwrap_or(0)
    }
}

/// An architecture with its layers at its input size.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    pub architecture: Architecture,
    pub input_size: i64,
    pub normalisation: Normalisation,
    pub layers: Vec<LayerSpec>,
}

impl NetworkSpec {
    /// The index of the layer called `name` (case ignored).
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|layer| layer.name.eq_ignore_ascii_case(name))
    }

    pub fn layer_names(&self) -> Vec<&str> {
        self.layers.iter().map(|layer| layer.name.as_str()).collect()
    }

    /// The layers with a spatial grid, in forward order.
    pub fn spatial_layers(&self) -> Vec<&LayerSpec> {
        self.layers.iter().filter(|layer| layer.is_spatial()).collect()
    }

    pub fn num_classes(&self) -> i64 {
        self.layers.last().map_or(0, LayerSpec::channels)
    }

    /// The layer called `name`, or an error listing the valid names.
    pub fn resolve_layer(&self, name: &str) -> Result<usize, String> {
        self.layer_index(name).ok_or_else(|| {
            format!("no layer '{name}' in {}; its layers are {}", self.architecture.display_name(), self.layer_names().join(", "))
        })
    }
}

/// Tracks the grid through the stages as the spec is written: side, stride, receptive field.
pub(crate) struct GridTracker {
    pub side: i64,
    pub jump: i64,
    pub field: i64,
}

impl GridTracker {
    pub fn new(input_size: i64) -> GridTracker {
        GridTracker { side: input_size, jump: 1, field: 1 }
    }

    /// A convolution or pooling of kernel `kernel` and `stride`, output side `side`.
    pub fn window(&mut self, kernel: i64, stride: i64, side: i64) {
        self.field += (kernel - 1) * self.jump;
        self.jump *= stride;
        self.side = side;
    }

    pub fn spatial(&self, name: impl Into<String>, channels: i64) -> LayerSpec {
        LayerSpec {
            name: name.into(),
            kind: LayerKind::Spatial,
            shape: vec![channels, self.side, self.side],
            stride: self.jump,
            receptive_field: self.field,
        }
    }
}

pub(crate) fn vector_layer(name: impl Into<String>, units: i64, kind: LayerKind) -> LayerSpec {
    LayerSpec { name: name.into(), kind, shape: vec![units], stride: 0, receptive_field: 0 }
}

/// A network as a sequence of stages, one per layer of its spec: the output of stage `i` is
/// layer `i`. Images come in as `[N, 3, S, S]` pixels in [0, 1]; the network normalises them.
pub trait Network: Send {
    fn spec(&self) -> &NetworkSpec;
    fn var_store(&self) -> &nn::VarStore;
    /// For changing the precision of every weight at once (`set_kind`).
    fn var_store_mut(&mut self) -> &mut nn::VarStore;
    /// Stage `index` applied to the previous layer's output (the normalised images for stage 0).
    fn stage(&self, index: usize, input: &Tensor, train: bool) -> Tensor;

    /// Layer `layer`'s output for `images`.
    fn forward_to(&self, images: &Tensor, layer: usize, train: bool) -> Tensor {
        let mut x = self.spec().normalisation.apply(images);
        for index in 0..=layer {
            x = self.stage(index, &x, train);
        }
        x
    }

    /// The logits from layer `layer`'s output (Grad-CAM and the atlas take gradients this way).
    fn forward_from(&self, layer: usize, activation: &Tensor, train: bool) -> Tensor {
        let mut x = activation.shallow_clone();
        for index in layer + 1..self.spec().layers.len() {
            x = self.stage(index, &x, train);
        }
        x
    }

    /// The logits for `images`.
    fn logits(&self, images: &Tensor, train: bool) -> Tensor {
        self.forward_to(images, self.spec().layers.len() - 1, train)
    }

    fn num_classes(&self) -> usize {
        self.spec().num_classes() as usize
    }

    /// The concrete network, for the parts that have a faster or fuller path for one of them.
    fn as_any(&self) -> &dyn std::any::Any;

    /// The state-dict name prefixes of layer `layer`'s stage (`_blocks.15.`), empty for a
    /// stage without parameters: what fine-tuning unfreezes, stage by stage. A network that
    /// names none cannot be fine-tuned by stage.
    fn layer_prefixes(&self, _layer: usize) -> Vec<String> {
        Vec::new()
    }

    /// Trainable and running-statistics numbers of layer `layer`'s stage.
    fn layer_parameters(&self, layer: usize) -> i64 {
        parameters_under(self.var_store(), &self.layer_prefixes(layer))
    }

    /// A hand-carried guided backpropagation, where the network has one (the paper's); every
    /// other network takes [`guided::guided_backprop`]'s general path.
    fn hand_guided_backprop(&self, _images: &Tensor, _class: usize) -> Option<Tensor> {
        None
    }

    fn device(&self) -> tch::Device {
        self.var_store().device()
    }
}

/// The element type of a network's weights, which its inputs must have.
pub fn network_kind(net: &dyn Network) -> tch::Kind {
    net.var_store().variables().values().next().map_or(tch::Kind::Float, |t| t.kind())
}

/// The number of values in the variables whose names start with one of `prefixes`.
pub(crate) fn parameters_under(vs: &nn::VarStore, prefixes: &[String]) -> i64 {
    vs.variables().iter().filter(|(name, _)| prefixes.iter().any(|p| name.starts_with(p.as_str()))).map(|(_, t)| t.numel() as i64).sum()
}

/// An imported network of one of the [`Architecture::IMPORTABLE`] families.
pub fn build_network(architecture: Architecture, num_classes: i64, device: tch::Device) -> Option<Box<dyn Network>> {
    match architecture {
        Architecture::EfficientNetLite0 => Some(Box::new(efficientnet_lite::EfficientNetLite::lite0(num_classes, device))),
        Architecture::ResNet18 => Some(Box::new(resnet::ResNet::resnet18(num_classes, device))),
        Architecture::ResNet50 => Some(Box::new(resnet::ResNet::resnet50(num_classes, device))),
        Architecture::PaperCnn => None,
    }
}
