//! EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile accelerators: ReLU6, no
//! squeeze-and-excitation, fixed stem and head) in the `efficientnet_pytorch` naming:
//! `_conv_stem`, `_bn0`, `_blocks.N._expand_conv/_depthwise_conv/_project_conv/_bn0-2`,
//! `_conv_head`, `_bn1`, `_fc`. TensorFlow "same" padding, batch-norm eps 1e-3.

use tch::{Device, Tensor, nn, nn::Module};

use super::guided::relu6;
use super::layers::{ConvBn, Padding, linear};
use super::{Architecture, GridTracker, LayerKind, Network, NetworkSpec, vector_layer};

const BN_EPS: f64 = 1e-3;
const STEM_CHANNELS: i64 = 32;
const HEAD_CHANNELS: i64 = 1280;
/// Dropout before the classifier while training.
const DROPOUT: f64 = 0.2;

/// The seven stages of EfficientNet-B0/Lite0: (repeats, kernel, first stride, expansion, outputs).
const STAGES: [(usize, i64, i64, i64, i64); 7] =
    [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)];

/// One inverted-residual block: expand (1x1), depthwise, project (1x1), and the skip when the
/// shape is kept.
struct MbBlock {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    skip: bool,
}

impl MbBlock {
    fn forward_t(&self, input: &Tensor, train: bool) -> Tensor {
        let mut x = match &self.expand {
            Some(expand) => relu6(&expand.forward_t(input, train)),
            None => input.shallow_clone(),
        };
        x = relu6(&self.depthwise.forward_t(&x, train));
        x = self.project.forward_t(&x, train);
        if self.skip { x + input } else { x }
    }
}

pub struct EfficientNetLite {
    vs: nn::VarStore,
    spec: NetworkSpec,
    stem: ConvBn,
    blocks: Vec<MbBlock>,
    head: ConvBn,
    fc: nn::Linear,
}

impl EfficientNetLite {
    /// EfficientNet-Lite0 with `num_classes` outputs, freshly initialised.
    pub fn lite0(num_classes: i64, device: Device) -> EfficientNetLite {
        let architecture = Architecture::EfficientNetLite0;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mut grid = GridTracker::new(architecture.input_size());
        let mut layers = Vec::new();
        let stem = ConvBn::new(&root / "_conv_stem", &root / "_bn0", 3, STEM_CHANNELS, 3, 2, 1, Padding::Same, BN_EPS);
        grid.window(3, 2, stem.output_side(grid.side));
        layers.push(grid.spatial("stem", STEM_CHANNELS));
        let mut blocks = Vec::new();
        let mut inputs = STEM_CHANNELS;
        for (repeats, kernel, first_stride, expansion, outputs) in STAGES {
            for repeat in 0..repeats {
                let stride = if repeat == 0 { first_stride } else { 1 };
                let path = &root / "_blocks" / blocks.len();
                let hidden = inputs * expansion;
                let expand = (expansion != 1)
                    .then(|| ConvBn::new(&path / "_expand_conv", &path / "_bn0", inputs, hidden, 1, 1, 1, Padding::Same, BN_EPS));
                let depthwise =
                    ConvBn::new(&path / "_depthwise_conv", &path / "_bn1", hidden, hidden, kernel, stride, hidden, Padding::Same, BN_EPS);
                let project = ConvBn::new(&path / "_project_conv", &path / "_bn2", hidden, outputs, 1, 1, 1, Padding::Same, BN_EPS);
                grid.window(kernel, stride, depthwise.output_side(grid.side));
                layers.push(grid.spatial(format!("block{}", blocks.len()), outputs));
                blocks.push(MbBlock { expand, depthwise, project, skip: stride == 1 && inputs == outputs });
                inputs = outputs;
            }
        }
        let head = ConvBn::new(&root / "_conv_head", &root / "_bn1", inputs, HEAD_CHANNELS, 1, 1, 1, Padding::Same, BN_EPS);
        layers.push(grid.spatial("head", HEAD_CHANNELS));
        layers.push(vector_layer("pool", HEAD_CHANNELS, LayerKind::Vector));
        layers.push(vector_layer("logits", num_classes, LayerKind::Logits));
        let fc = linear(&root / "_fc", HEAD_CHANNELS, num_classes);
        let spec = NetworkSpec { architecture, input_size: architecture.input_size(), normalisation: architecture.normalisation(), layers };
        EfficientNetLite { vs, spec, stem, blocks, head, fc }
    }
}

impl Network for EfficientNetLite {
    fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn layer_prefixes(&self, layer: usize) -> Vec<String> {
        let blocks = self.blocks.len();
        match layer {
            0 => vec!["_conv_stem.".into(), "_bn0.".into()],
            i if i <= blocks => vec![format!("_blocks.{}.", i - 1)],
            i if i == blocks + 1 => vec!["_conv_head.".into(), "_bn1.".into()],
            i if i == blocks + 3 => vec!["_fc.".into()],
            _ => Vec::new(),
        }
    }

    fn stage(&self, index: usize, input: &Tensor, train: bool) -> Tensor {
        let blocks = self.blocks.len();
        match index {
            0 => relu6(&self.stem.forward_t(input, train)),
            i if i <= blocks => self.blocks[i - 1].forward_t(input, train),
            i if i == blocks + 1 => relu6(&self.head.forward_t(input, train)),
            i if i == blocks + 2 => input.mean_dim([2i64, 3].as_slice(), false, input.kind()),
            _ => self.fc.forward(&input.dropout(DROPOUT, train)),
        }
    }
}
